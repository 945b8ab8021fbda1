"""Threads writing through one store, with units of work, and through several stores on one file.

Nothing is lost, duplicated or reordered; a unit of work is seen whole or not at
all; conflicts surface as ConcurrencyError (or are retried by handle), and every
error is an EventLabError, never a DuckDB one.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import eventlab
from eventlab import handle
from eventlab.examples import orders

ORDERS = ("1", "2", "3")


def place_orders(store: eventlab.EventStore) -> None:
    for order_id in ORDERS:
        handle(store, orders.decider, orders.stream_id(order_id),
               orders.PlaceOrder(order_id=order_id, user_id=1, items=[]))


def run(workers) -> None:
    threads = [threading.Thread(target=work) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread hung"


def check_log(store: eventlab.EventStore, sent: dict[str, list[str]]) -> None:
    """Each command acknowledged is in the log once, in the order its thread sent it; the log is whole."""
    log = store.read_all()
    assert [r.position for r in log] == list(range(1, len(log) + 1))
    added = [r for r in log if r.type == "ItemAdded"]
    items = [r.data["item"] for r in added]
    assert len(items) == len(set(items)), "an event was written twice"
    assert sorted(items) == sorted(item for per_worker in sent.values() for item in per_worker), \
        "an acknowledged event is missing, or an unacknowledged one was written"
    for worker, mine in sent.items():
        for order_id in ORDERS:
            stored = [i for r in added if r.stream_id == orders.stream_id(order_id)
                      for i in [r.data["item"]] if i.startswith(f"{worker}-")]
            expected = [i for i in mine if i.split("-")[-1] == order_id]
            assert stored == expected, f"{worker}'s events on order {order_id} were reordered"
    for order_id in ORDERS:
        stream = store.read(orders.stream_id(order_id))
        assert [r.version for r in stream] == list(range(1, len(stream) + 1))
        state = eventlab.state_at(store, orders.stream_id(order_id), orders.decider)
        assert state.items == [r.data["item"] for r in stream if r.type == "ItemAdded"]
    assert store.verify().ok


def test_threads_with_units_of_work_and_single_commands_on_one_store():
    store = eventlab.EventStore()
    place_orders(store)
    sent: dict[str, list[str]] = defaultdict(list)
    failures: list[BaseException] = []
    seen_partial: list[str] = []
    stop = threading.Event()

    def single(worker: str):
        def work():
            for i in range(25):
                order_id = ORDERS[i % 3]
                item = f"{worker}-{i}-{order_id}"
                try:
                    handle(store, orders.decider, orders.stream_id(order_id),
                           orders.AddItem(order_id=order_id, item=item), max_retries=100)
                except BaseException as exc:  # noqa: BLE001 - any failure is a finding
                    failures.append(exc)
                    continue
                sent[worker].append(item)
        return work

    def units(worker: str):
        def work():
            for unit in range(8):
                items = [f"{worker}-u{unit}.{k}-{ORDERS[(unit + k) % 3]}" for k in range(4)]
                try:
                    with store.unit_of_work():
                        for item in items:
                            order_id = item.split("-")[-1]
                            handle(store, orders.decider, orders.stream_id(order_id),
                                   orders.AddItem(order_id=order_id, item=item))
                        if unit == 5:
                            raise RuntimeError("abandoned unit")  # none of its events may appear
                except RuntimeError:
                    continue
                except BaseException as exc:  # noqa: BLE001
                    failures.append(exc)
                    continue
                sent[worker].extend(items)
        return work

    def reader():
        while not stop.is_set():
            log = store.read_all()
            if [r.position for r in log] != list(range(1, len(log) + 1)):
                seen_partial.append("a gap in positions")
            per_unit: dict[str, int] = defaultdict(int)
            for r in log:
                if r.type == "ItemAdded" and "-u" in r.data["item"]:
                    per_unit[r.data["item"].split(".")[0]] += 1
            seen_partial.extend(f"{unit} seen with {n} of 4 events" for unit, n in per_unit.items() if n != 4)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        run([single("s1"), single("s2"), units("u1"), units("u2")])
    finally:
        stop.set()
        watcher.join()
    assert not failures, failures[:3]
    assert not seen_partial, seen_partial[:3]
    assert not any("-u5." in item for per_worker in sent.values() for item in per_worker)
    assert len(sent["s1"]) == len(sent["s2"]) == 25 and len(sent["u1"]) == len(sent["u2"]) == 7 * 4
    check_log(store, sent)
    assert not any("-u5." in r.data.get("item", "") for r in store.read_all())


def test_threads_each_with_their_own_store_on_one_file(tmp_path):
    """Several EventStore objects on one file (a notebook cell run twice): caches go stale, nothing else."""
    path = tmp_path / "shared.duckdb"
    with eventlab.EventStore(path) as store:
        place_orders(store)
    sent: dict[str, list[str]] = defaultdict(list)
    conflicts: list[BaseException] = []
    failures: list[BaseException] = []

    def single(worker: str):
        def work():
            with eventlab.EventStore(path) as mine:
                for i in range(20):
                    order_id = ORDERS[i % 3]
                    item = f"{worker}-{i}-{order_id}"
                    try:
                        handle(mine, orders.decider, orders.stream_id(order_id),
                               orders.AddItem(order_id=order_id, item=item), max_retries=200)
                    except BaseException as exc:  # noqa: BLE001
                        failures.append(exc)
                        continue
                    sent[worker].append(item)
        return work

    def units(worker: str):
        def work():
            with eventlab.EventStore(path) as mine:
                for unit in range(8):
                    items = [f"{worker}-u{unit}.{k}-{ORDERS[(unit + k) % 3]}" for k in range(3)]
                    try:
                        with mine.unit_of_work():
                            for item in items:
                                order_id = item.split("-")[-1]
                                handle(mine, orders.decider, orders.stream_id(order_id),
                                       orders.AddItem(order_id=order_id, item=item))
                    except eventlab.ConcurrencyError as exc:
                        conflicts.append(exc)  # another store wrote meanwhile: nothing of the unit is kept
                        continue
                    except eventlab.StoreError as exc:
                        if "run the unit of work again" not in str(exc):
                            failures.append(exc)
                        conflicts.append(exc)
                        continue
                    except BaseException as exc:  # noqa: BLE001
                        failures.append(exc)
                        continue
                    sent[worker].extend(items)
        return work

    run([single("s1"), single("s2"), units("u1"), units("u2")])
    assert not failures, failures[:3]
    # single commands retry until they land, through caches other stores made stale
    assert len(sent["s1"]) == len(sent["s2"]) == 20
    with eventlab.EventStore(path) as store:
        check_log(store, sent)
