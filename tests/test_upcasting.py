"""Event versioning: old shapes upgrade on read, chains compose, unknown versions fail clearly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import eventlab
from eventlab import NewEvent, event_type
from eventlab.examples import orders
from eventlab.timetravel import state_at, states_at
from eventlab.upcasting import migrate, upcaster

FIXTURE = Path(__file__).parent / "fixtures" / "orders_log_v1.jsonl"


def old_store() -> eventlab.EventStore:
    """A store holding the version-1 log exactly as it was written."""
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    frame = pd.DataFrame({
        "stream_id": [r["stream_id"] for r in rows], "type": [r["type"] for r in rows],
        "data": [json.dumps(r["data"]) for r in rows], "schema_version": [r["schema_version"] for r in rows],
        "recorded_at": pd.to_datetime([r["recorded_at"] for r in rows], utc=True)})
    store = eventlab.EventStore()
    store.import_events(frame)
    return store


def test_an_old_log_replays_to_the_same_states_as_a_new_one():
    old = old_store()
    new = eventlab.EventStore()
    new.append("order-123", [orders.OrderPlaced("123", 1, ["a", "b"]), orders.ItemAdded("123", "c")])
    new.append("order-124", [orders.OrderPlaced("124", 2, ["z"])])
    new.append("order-123", [orders.OrderPaid("123", 100)])
    new.append("order-124", [orders.OrderPaid("124", 12.5)])
    new.append("order-123", [orders.OrderShipped("123")])
    for stream_id in ("order-123", "order-124"):
        assert state_at(old, stream_id, orders.decider) == state_at(new, stream_id, orders.decider)
    pd.testing.assert_frame_equal(states_at(old, orders.decider), states_at(new, orders.decider))
    pd.testing.assert_frame_equal(states_at(old, orders.decider, method="python"),
                                  states_at(new, orders.decider, method="python"))


def test_reading_upgrades_the_object_but_never_the_stored_row():
    old = old_store()
    paid = old.read("order-123")[2]
    assert paid.schema_version == 1 and paid.data == {"order_id": "123", "amount": 100}
    assert paid.event == orders.OrderPaid("123", 100, "EUR")
    assert old.sql("SELECT data FROM events WHERE position = 4").fetchall()[0][0] == \
        '{"order_id": "123", "amount": 100}'
    assert old.verify().ok


@event_type("TestTemperatureMeasured", version=3)
@dataclass(frozen=True)
class TemperatureMeasured:
    sensor: str
    kelvin: float


@upcaster("TestTemperatureMeasured", from_version=1)
def _celsius_field_renamed(data):
    return {"sensor": data["sensor"], "celsius": data["temp"]}


@upcaster("TestTemperatureMeasured", from_version=2)
def _celsius_to_kelvin(data):
    return {"sensor": data["sensor"], "kelvin": data["celsius"] + 273.15}


@event_type("TestWindMeasured", version=2)
@dataclass(frozen=True)
class WindMeasured:
    metres_per_second: float


def test_upcasters_chain_from_any_old_version_to_the_current_one():
    store = eventlab.EventStore()
    store.append("sensor-1", [
        NewEvent("TestTemperatureMeasured", {"sensor": "s1", "temp": 20.0}, schema_version=1),
        NewEvent("TestTemperatureMeasured", {"sensor": "s1", "celsius": 21.0}, schema_version=2),
        TemperatureMeasured("s1", 295.15),
    ])
    kelvins = [r.event.kelvin for r in store.read("sensor-1")]
    assert kelvins == [293.15, 294.15, 295.15]


def test_a_version_newer_than_the_code_or_without_upcaster_fails_naming_type_version_and_stream():
    store = eventlab.EventStore()
    store.append("order-9", [NewEvent("OrderPaid", {"order_id": "9", "amount": 1}, schema_version=3)])
    newer = "'OrderPaid' version 3 in stream 'order-9'.*newer"
    with pytest.raises(eventlab.UnknownEventTypeError, match=newer):
        state_at(store, "order-9", orders.decider)
    store.append("sensor-8", [NewEvent("TestWindMeasured", {"knots": 3}, schema_version=1)])
    with pytest.raises(eventlab.UnknownEventTypeError, match="version 1 in stream 'sensor-8'.*no upcaster"):
        _ = store.read("sensor-8")[0].event
    store.append("order-7", [NewEvent("OrderTeleported", {"order_id": "7"})])
    with pytest.raises(eventlab.UnknownEventTypeError, match="'OrderTeleported'.*'order-7'"):
        state_at(store, "order-7", orders.decider)


def test_copy_and_transform_migration_writes_upgraded_events_and_a_valid_chain():
    old = old_store()
    new = eventlab.EventStore()
    report = migrate(old, new)
    assert report.imported == old.count() == new.count()
    paid = new.read("order-123")[2]
    assert (paid.schema_version, paid.data["currency"]) == (2, "EUR")
    assert [r.recorded_at for r in new.read_all()] == [r.recorded_at for r in old.read_all()]
    assert [r.event_id for r in new.read_all()] == [r.event_id for r in old.read_all()]
    assert new.verify().ok
    pd.testing.assert_frame_equal(states_at(new, orders.decider), states_at(old, orders.decider))
    with pytest.raises(eventlab.EventLabError, match="empty store"):
        migrate(old, new)
