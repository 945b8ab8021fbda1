"""Many threads handling commands through one store never lose, duplicate or reorder events."""

from __future__ import annotations

import threading

import eventlab
from eventlab import handle
from eventlab.examples import orders


def test_threads_handling_commands_on_shared_streams_lose_nothing():
    store = eventlab.EventStore()
    for order_id in ("1", "2", "3"):
        handle(store, orders.decider, orders.stream_id(order_id),
               orders.PlaceOrder(order_id=order_id, user_id=1, items=[]))
    written: list[eventlab.RecordedEvent] = []
    failures: list[Exception] = []
    lock = threading.Lock()

    def worker(worker_id: int) -> None:
        for i in range(40):
            order_id = str(1 + (worker_id + i) % 3)
            command = orders.AddItem(order_id=order_id, item=f"w{worker_id}-{i}")
            try:
                events = handle(store, orders.decider, orders.stream_id(order_id), command, max_retries=50)
            except eventlab.ConcurrencyError as exc:  # allowed, as long as nothing half-written remains
                failures.append(exc)
                continue
            with lock:
                written.extend(events)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    log = store.read_all()
    assert [r.position for r in log] == list(range(1, len(log) + 1))
    assert len(log) == 3 + len(written)
    assert sorted(r.event_id for r in log[3:]) == sorted(r.event_id for r in written)
    for order_id in ("1", "2", "3"):
        stream = store.read(orders.stream_id(order_id))
        assert [r.version for r in stream] == list(range(1, len(stream) + 1))
        items = eventlab.state_at(store, orders.stream_id(order_id), orders.decider).items
        assert len(items) == len(set(items)) == len(stream) - 1
    assert len(written) + len(failures) == 160
    assert store.verify().ok
