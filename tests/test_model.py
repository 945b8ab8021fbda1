"""Deciders, replay and handle: the write path against the real store, races included."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import Decider, NewEvent, handle, replay
from eventlab.errors import CommandRejected, ConcurrencyError, UnknownEventTypeError
from eventlab.examples.orders import (
    AddItem,
    CancelOrder,
    ItemAdded,
    ItemRemoved,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    PayOrder,
    PlaceOrder,
    RemoveItem,
    ShipOrder,
    decider,
)

HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def store():
    with eventlab.EventStore() as s:
        yield s


class RacingStore:
    """The real store, except that another writer sneaks in before some of our appends.

    ``rivals`` are run one per append, just before it: exactly the window between
    ``handle``'s read and its append in which a concurrent writer can move the stream.
    """

    def __init__(self, store: eventlab.EventStore, *rivals: Callable[[], object]):
        self.store = store
        self.rivals = list(rivals)

    def __getattr__(self, name):
        return getattr(self.store, name)

    def append(self, stream_id, events, *args, **kwargs):
        if self.rivals:
            self.rivals.pop(0)()
        return self.store.append(stream_id, events, *args, **kwargs)


# --- Decider and replay -----------------------------------------------------------

counter = Decider(initial_state=0, evolve=lambda total, event: total + event,
                  decide=lambda command, total: [] if command == 0 else [command],
                  name="counter", category="counter")


def test_decider_is_a_frozen_description_with_keyword_fields():
    assert (counter.state_version, counter.state_sql) == (1, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        counter.name = "other"
    with pytest.raises(TypeError):
        Decider(0, counter.evolve, counter.decide, "counter")  # name is keyword-only
    assert Decider(0, counter.evolve, counter.decide).name == ""


def test_replay_folds_from_the_initial_or_a_given_state():
    assert replay([], counter) == 0
    assert replay([1, 2, 3], counter) == 6
    assert replay([4], counter, state=6) == 10
    assert replay(iter([1, 1]), counter) == 2


def test_replay_decodes_recorded_events(store):
    recorded = store.append("order-1", [OrderPlaced("1", 1, ["a"]), ItemAdded("1", "b")])
    assert replay(recorded, decider).items == ["a", "b"]
    assert replay(store.read("order-1"), decider).items == ["a", "b"]


def test_replay_of_an_unknown_event_type_names_the_type_and_the_stream(store):
    store.append("order-1", [OrderPlaced("1", 1, ["a"]), NewEvent("ParcelLost", {"n": 1})])
    with pytest.raises(UnknownEventTypeError, match=r"'ParcelLost' \(stream 'order-1', version 2\)"):
        replay(store.read("order-1"), decider)


order_events = st.one_of(
    st.builds(OrderPlaced, st.just("1"), st.integers(1, 3), st.lists(st.sampled_from("abc"), max_size=3)),
    st.builds(ItemAdded, st.just("1"), st.sampled_from("abc")),
    st.builds(ItemRemoved, st.just("1"), st.sampled_from("abc")),
    st.builds(OrderPaid, st.just("1"), st.integers(-10, 100)),
    st.builds(OrderShipped, st.just("1")),
    st.builds(OrderCancelled, st.just("1"), st.text(max_size=5)),
)


@HYPOTHESIS
@given(st.lists(order_events, max_size=12), st.lists(order_events, max_size=12))
def test_replay_is_a_left_fold(first, rest):
    """Replaying a prefix and then the rest equals replaying everything: what makes snapshots safe."""
    assert replay(first + rest, decider) == replay(rest, decider, state=replay(first, decider))


# --- handle -------------------------------------------------------------------------


def test_handle_appends_the_decided_events_at_the_next_versions(store):
    first = handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    second = handle(store, decider, "order-1", AddItem("1", "b"), metadata={"user": "alice"})
    assert [(r.stream_id, r.version, r.event) for r in first + second] == [
        ("order-1", 1, OrderPlaced("1", 7, ["a"])), ("order-1", 2, ItemAdded("1", "b"))]
    assert second[0].metadata["user"] == "alice"
    assert store.read("order-1") == first + second


def test_a_rejected_command_writes_nothing(store):
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    with pytest.raises(CommandRejected, match="not paid yet") as caught:
        handle(store, decider, "order-1", ShipOrder("1"))
    assert caught.value.command == ShipOrder("1")
    assert store.stream_version("order-1") == 1


def test_a_command_that_decides_nothing_writes_nothing(store):
    assert handle(store, counter, "counter-1", 0) == []
    assert store.stream_version("counter-1") == 0


def test_handle_retries_after_a_concurrent_append(store):
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    racing = RacingStore(store, lambda: store.append("order-1", [ItemAdded("1", "b")]))
    recorded = handle(racing, decider, "order-1", AddItem("1", "c"))
    assert [(r.version, r.event) for r in recorded] == [(3, ItemAdded("1", "c"))]
    assert replay(store.read("order-1"), decider).items == ["a", "b", "c"]


def test_a_retry_decides_again_on_the_fresh_state(store):
    """Two clerks pay the same order at once: the second one's retry sees the payment and is refused."""
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    racing = RacingStore(store, lambda: handle(store, decider, "order-1", PayOrder("1", 10)))
    with pytest.raises(CommandRejected, match="already paid"):
        handle(racing, decider, "order-1", PayOrder("1", 10))
    assert [r.type for r in store.read("order-1")] == ["OrderPlaced", "OrderPaid"]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_handle_gives_up_after_max_retries(store, max_retries):
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))

    def rival():
        store.append("order-1", [ItemAdded("1", "rival")])

    with pytest.raises(ConcurrencyError) as caught:
        handle(RacingStore(store, *[rival] * (max_retries + 1)), decider, "order-1", AddItem("1", "mine"),
               max_retries=max_retries)
    assert caught.value.stream_id == "order-1"
    assert "mine" not in replay(store.read("order-1"), decider).items
    assert store.stream_version("order-1") == 1 + max_retries + 1
    # one rival fewer than attempts: the last attempt wins
    handle(RacingStore(store, *[rival] * max_retries), decider, "order-1", AddItem("1", "mine"),
           max_retries=max_retries)
    assert replay(store.read("order-1"), decider).items[-1] == "mine"


def test_handle_inside_a_unit_of_work_commits_many_commands_together(store):
    with store.unit_of_work():
        for i in range(100):
            handle(store, decider, f"order-{i}", PlaceOrder(str(i), i, ["a"]))
            handle(store, decider, f"order-{i}", PayOrder(str(i), 10))  # sees the uncommitted placement
        with pytest.raises(CommandRejected):
            handle(store, decider, "order-0", PayOrder("0", 10))
    assert len(store.read_all()) == 200
    assert [r.position for r in store.read_all()] == list(range(1, 201))
    assert [r.version for r in store.read("order-99")] == [1, 2]
    assert replay(store.read("order-99"), decider).status == "Paid"


def test_a_failing_unit_of_work_writes_none_of_its_commands(store):
    with pytest.raises(CommandRejected), store.unit_of_work():
        handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
        handle(store, decider, "order-2", ShipOrder("2"))
    assert store.read_all() == []


def test_handle_never_decides_on_a_state_from_rolled_back_appends(store):
    """handle remembers the states it leaves; a rollback must make them stale."""
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    with pytest.raises(RuntimeError), store.unit_of_work():
        handle(store, decider, "order-1", AddItem("1", "ghost"))
        raise RuntimeError("the unit of work fails")
    store.append("order-1", [ItemAdded("1", "b")], expected_version=1)  # the same version, other facts
    handle(store, decider, "order-1", RemoveItem("1", "b"))
    with pytest.raises(CommandRejected, match="ghost"):
        handle(store, decider, "order-1", RemoveItem("1", "ghost"))
    assert replay(store.read("order-1"), decider).items == ["a"]


def test_handle_sees_appends_made_without_it(store):
    handle(store, decider, "order-1", PlaceOrder("1", 7, ["a"]))
    store.append("order-1", [OrderPaid("1", 10)], expected_version=1)
    with pytest.raises(CommandRejected, match="already paid"):
        handle(store, decider, "order-1", PayOrder("1", 10))


def commands_for(order_id: str) -> st.SearchStrategy:
    items = st.sampled_from("abc")
    add_item = st.builds(AddItem, st.just(order_id), items)
    return st.one_of(
        add_item, add_item, add_item,  # the one command that stays accepted for a while: races bite
        st.builds(PlaceOrder, st.just(order_id), st.integers(1, 3), st.lists(items, max_size=2)),
        st.builds(RemoveItem, st.just(order_id), items),
        st.builds(PayOrder, st.just(order_id), st.integers(-1, 50)),
        st.builds(ShipOrder, st.just(order_id)),
        st.builds(CancelOrder, st.just(order_id)),
    )


# one step: a command on one of three orders, maybe raced by another command on the same order
steps = st.sampled_from(["1", "2", "3"]).flatmap(
    lambda order_id: st.tuples(commands_for(order_id), st.none() | commands_for(order_id)))
opening = [(PlaceOrder(order_id, 1, ["a"]), None) for order_id in "123"]


@HYPOTHESIS
@given(st.lists(steps, max_size=25), st.booleans())
def test_handle_never_loses_or_duplicates_an_event(plan, in_one_unit_of_work):
    """Random commands on three orders, some raced by a rival writer, with or without one unit of work."""
    accepted = []  # (command, the events handle reported as written for it)

    def attempt(store, command):
        with contextlib.suppress(CommandRejected):
            accepted.append((command, handle(store, decider, f"order-{command.order_id}", command)))

    with eventlab.EventStore() as store:
        with store.unit_of_work() if in_one_unit_of_work else contextlib.nullcontext():
            for command, rival in opening + plan:
                racing = RacingStore(store, *([lambda r=rival: attempt(store, r)] if rival else []))
                attempt(racing, command)
        written = sorted((r for _, batch in accepted for r in batch), key=lambda r: r.position)
        assert store.read_all() == written  # each accepted event exactly once, nothing else
        streams = {order_id: store.read(f"order-{order_id}") for order_id in "123"}
        for stream in streams.values():
            assert [r.version for r in stream] == list(range(1, len(stream) + 1))
        for command, batch in accepted:  # decided on the state just before it, never a stale one
            before = streams[command.order_id][:batch[0].version - 1]
            assert decider.decide(command, replay(before, decider)) == [r.event for r in batch]
