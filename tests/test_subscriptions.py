"""Subscriptions: a consumer follows the log from a position, or receives it as files."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import eventlab
from eventlab.examples import orders
from eventlab.projections import Subscription, export_events, subscribe

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store():
    moments = iter(T0 + timedelta(minutes=i) for i in range(10**6))
    with eventlab.EventStore(clock=lambda: next(moments)) as store:
        for n in range(5):
            store.append(f"order-{n}", [orders.OrderPlaced(str(n), n, ["a"]),
                                        orders.OrderPaid(str(n), 10 + n)])
        yield store


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_subscriber_reads_the_log_in_order_in_batches_from_any_position(store):
    batches = list(subscribe(store, from_position=3, batch_size=3, follow=False))
    assert [len(b) for b in batches] == [3, 3, 2]
    assert [e.position for b in batches for e in b] == list(range(3, 11))
    paid = [e for b in subscribe(store, types=["OrderPaid"], follow=False) for e in b]
    assert [(e.stream_id, e.event.amount) for e in paid] == [(f"order-{n}", 10 + n) for n in range(5)]


def test_a_following_subscriber_gets_new_events_until_told_to_stop(store):
    stop = threading.Event()
    received = []

    def consume():
        for batch in subscribe(store, from_position=9, poll=0.005, stop=stop):
            received.extend(batch)

    consumer = threading.Thread(target=consume)
    consumer.start()
    wait_for(lambda: len(received) == 2)
    store.append("order-9", [orders.OrderPlaced("9", 9, ["z"])])
    wait_for(lambda: len(received) == 3)
    stop.set()
    consumer.join(5)
    assert not consumer.is_alive()
    assert [e.position for e in received] == [9, 10, 11]


def test_a_callback_subscription_stops_on_a_failure_and_a_new_one_retries_that_event(store):
    seen, mail_server = [], {"up": False}

    def send_mail(event):
        if event.position == 4 and not mail_server["up"]:
            raise RuntimeError("the mail server is down")
        seen.append(event.position)

    with Subscription(store, send_mail, poll=0.005) as first:
        wait_for(lambda: first.error is not None)
    assert (seen, first.position, str(first.error)) == ([1, 2, 3], 4, "the mail server is down")
    mail_server["up"] = True
    with Subscription(store, send_mail, from_position=first.position, poll=0.005) as second:
        wait_for(lambda: second.position == 11)
    assert seen == list(range(1, 11)) and second.error is None


def test_events_export_to_json_lines_as_another_system_reads_them(store, tmp_path):
    report = export_events(store, tmp_path / "out" / "events.jsonl", from_position=2, types=["OrderPaid"])
    assert (report.events, report.first_position, report.last_position) == (5, 2, 10)
    lines = [json.loads(line) for line in report.path.read_text().splitlines()]
    assert [line["position"] for line in lines] == [2, 4, 6, 8, 10]
    first = lines[0]
    assert first["data"] == {"order_id": "0", "amount": 10, "currency": "EUR"}
    assert (first["type"], first["stream_id"], first["version"], first["schema_version"]) == (
        "OrderPaid", "order-0", 2, 2)
    assert datetime.fromisoformat(first["recorded_at"]) == T0
    assert first["occurred_at"] is None and first["metadata"] == {}
    assert first["event_id"] == str(store.read("order-0")[1].event_id)


def test_events_export_to_parquet_and_an_export_can_continue_where_the_last_ended(store, tmp_path):
    first = export_events(store, tmp_path / "1.parquet", to_position=6)
    store.append("order-9", [orders.OrderPlaced("9", 9, ["z"])])
    second = export_events(store, tmp_path / "2.parquet", from_position=first.last_position + 1)
    frame = pd.concat([pd.read_parquet(first.path), pd.read_parquet(second.path)])
    assert frame["position"].tolist() == list(range(1, 12))
    assert json.loads(frame["data"].iloc[-1]) == {"order_id": "9", "user_id": 9, "items": ["z"]}
    assert str(frame["recorded_at"].dt.tz) == "UTC"


def test_an_export_file_must_say_its_format(store, tmp_path):
    with pytest.raises(eventlab.UsageError, match=r"\.jsonl.*\.parquet"):
        export_events(store, tmp_path / "events.csv")
    with pytest.raises(eventlab.UsageError, match="from_position"):
        next(subscribe(store, from_position=0))
    with pytest.raises(eventlab.UsageError, match=r"types=\['OrderPaid'\]"):
        next(subscribe(store, types="OrderPaid"))
