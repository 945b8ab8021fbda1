"""CloudEvents written by the official CNCF Python SDK, loaded as events: JSON Lines and JSON batches."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import eventlab
from eventlab.cli import main

sdk = pytest.importorskip("cloudevents.core.v1.event")
from cloudevents.core.formats.json import JSONFormat  # noqa: E402

from eventlab.application.sources.cloudevents import IDS  # noqa: E402

START = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)


def bus_events() -> list:
    """What an order service published: ids of its own (not UUIDs), subjects, an extension, one binary."""
    events = []
    for n in range(6):
        order = f"order-{n % 3}"
        kind = ["com.shop.order.placed", "com.shop.order.paid"][n // 3]
        events.append(sdk.CloudEvent(
            attributes={"type": kind, "source": "/shop/orders", "id": f"evt-{n}", "subject": order,
                        "time": START + timedelta(minutes=n), "datacontenttype": "application/json",
                        "tenant": "eu"},
            data={"order": order, "amount": 10 * n} if n else {"order": order, "items": ["mug", "tea"]}))
    events.append(sdk.CloudEvent(
        attributes={"type": "com.shop.invoice.rendered", "source": "/shop/invoices",
                    "id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "time": START + timedelta(minutes=9),
                    "datacontenttype": "application/pdf"}, data=b"%PDF-1.7"))
    return events


@pytest.fixture
def written(tmp_path):
    events, fmt = bus_events(), JSONFormat()
    lines = tmp_path / "bus.jsonl"
    lines.write_bytes(b"\n".join(fmt.write(event) for event in events) + b"\n")
    batch = tmp_path / "bus.json"
    batch.write_bytes(b"[" + b",".join(fmt.write(event) for event in events) + b"]")
    return events, lines, batch


def test_json_lines_and_batches_read_the_same_events(written):
    events, lines, batch = written
    one, two = eventlab.sources.cloudevents(lines), eventlab.sources.cloudevents(batch)
    assert one.equals(two)
    assert one["stream_id"].tolist() == [e.get_attributes().get("subject") or e.get_attributes()["source"]
                                         for e in events]
    assert one["type"].tolist()[:4] == ["com.shop.order.placed"] * 3 + ["com.shop.order.paid"]


def test_loaded_events_keep_the_envelope_and_get_stable_ids(written):
    _, lines, _ = written
    store = eventlab.EventStore()
    report = store.import_events(eventlab.sources.cloudevents(lines))
    assert report.imported == 7 and store.verify().ok
    first = store.read("order-0")[0]
    assert first.type == "com.shop.order.placed"
    assert first.data == {"order": "order-0", "items": ["mug", "tea"]}
    assert first.metadata == {"source": "/shop/orders", "datacontenttype": "application/json", "tenant": "eu",
                              "specversion": "1.0", "cloudevents_id": "evt-0"}
    assert first.recorded_at == START
    invoice = store.read("/shop/invoices")[0]  # no subject: the source is the stream
    assert str(invoice.event_id) == "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # a UUID id is kept as it is
    assert "cloudevents_id" not in invoice.metadata and invoice.data == {"data_base64": "JVBERi0xLjc="}
    again = store.import_events(eventlab.sources.cloudevents(lines))
    assert (again.imported, again.skipped) == (0, 7)  # the same (source, id), the same event
    assert str(first.event_id) == str(uuid.uuid5(IDS, "/shop/orders\x1fevt-0"))


def test_the_cli_loads_cloudevents_with_format(written, tmp_path):
    _, lines, _ = written
    db = tmp_path / "bus.duckdb"
    assert main(["load", str(lines), "--format", "cloudevents", "--db", str(db)]) == 0
    with eventlab.EventStore(db, read_only=True) as store:
        assert store.count() == 7


def test_what_is_not_a_cloudevent_is_refused_naming_where(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = JSONFormat().write(bus_events()[0]).decode()
    no_time = json.dumps({k: v for k, v in json.loads(good).items() if k != "time"})
    bad.write_text(good + "\n" + no_time + "\n")
    with pytest.raises(eventlab.InvalidEventError, match=r"bad.jsonl, line 2 has no time"):
        eventlab.sources.cloudevents(bad)
    naive = json.loads(good) | {"time": "2024-05-06T09:00:00"}
    bad.write_text(json.dumps(naive) + "\n")
    with pytest.raises(eventlab.InvalidEventError, match="no UTC offset"):
        eventlab.sources.cloudevents(bad)
    bad.write_text(good + "\n{not json\n")
    with pytest.raises(eventlab.InvalidEventError, match="line 2 is not a CloudEvent"):
        eventlab.sources.cloudevents(bad)
