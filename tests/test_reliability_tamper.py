"""Tampering with the log by raw SQL, behind the API's back, is found by verify() at the right position.

Each edit is made the way someone would make it: another DuckDB connection to the
store file, plain SQL. ``store.verify()`` must name the first position that no
longer holds, and ``eventlab verify`` must exit 1 saying that position.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

import eventlab
from eventlab import NewEvent
from eventlab.cli import main
from eventlab.determinism import seeded_ids, ticking_clock

N = 20
T0 = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)

TAMPERING = {
    # one column of one event changed
    "data": ("""UPDATE events SET data = '{"i": 999}' WHERE position = 7""", 7),
    "data, same value, other spelling": ("""UPDATE events SET data = '{"i" : 8}' WHERE position = 8""", 8),
    "type": ("UPDATE events SET type = 'Refunded' WHERE position = 8", 8),
    "stream_id": ("UPDATE events SET stream_id = 's-9' WHERE position = 9", 9),
    "version": ("UPDATE events SET version = 99 WHERE position = 10", 10),
    "metadata": ("""UPDATE events SET metadata = '{"actor": "mallory"}' WHERE position = 11""", 11),
    "occurred_at": ("UPDATE events SET occurred_at = NULL WHERE position = 12", 12),
    "recorded_at": ("UPDATE events SET recorded_at = recorded_at - INTERVAL 1 SECOND WHERE position = 13",
                    13),
    "event_id": ("UPDATE events SET event_id = uuid() WHERE position = 14", 14),
    "schema_version": ("UPDATE events SET schema_version = 2 WHERE position = 15", 15),
    "prev_hash": ("UPDATE events SET prev_hash = hash WHERE position = 16", 16),
    "the newest event's hash": ("UPDATE events SET hash = sha256('forged') WHERE position = 20", 20),
    # rows removed
    "the first event deleted": ("DELETE FROM events WHERE position = 1", 1),
    "one event deleted": ("DELETE FROM events WHERE position = 6", 6),
    "a run deleted": ("DELETE FROM events WHERE position BETWEEN 6 AND 9", 6),
    "deleted and the positions closed up": (
        "DELETE FROM events WHERE position = 6; "
        "UPDATE events SET position = position + 1000 WHERE position > 6; "
        "UPDATE events SET position = position - 1001 WHERE position > 1000", 6),
    # rows added
    "an event appended with a made-up hash": (
        "INSERT INTO events SELECT 21, stream_id, version + 100, type, data, metadata, schema_version, "
        "uuid(), occurred_at, recorded_at, hash, sha256('made up') FROM events WHERE position = 20", 21),
    "an event slipped in between": (
        "UPDATE events SET position = position + 1000 WHERE position >= 10; "
        "UPDATE events SET position = position - 999 WHERE position > 1000; "
        "INSERT INTO events SELECT 10, stream_id, version + 100, type, data, metadata, schema_version, "
        "uuid(), occurred_at, recorded_at, prev_hash, hash FROM events WHERE position = 9", 10),
    # rows reordered
    "two positions swapped": (
        "UPDATE events SET position = CASE position WHEN 4 THEN 9 ELSE 4 END WHERE position IN (4, 9)", 4),
    "two events' data swapped": (
        "UPDATE events SET data = (SELECT data FROM events e WHERE e.position = "
        "CASE events.position WHEN 5 THEN 17 ELSE 5 END) WHERE position IN (5, 17)", 5),
    "the log rotated by one": (
        "UPDATE events SET position = position + 1000; "
        f"UPDATE events SET position = CASE WHEN position = 1000 + {N} THEN 1 ELSE position - 999 END", 1),
}


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> bytes:
    """A store file of 20 events on 3 streams, with metadata, some with a business time."""
    path = tmp_path_factory.mktemp("tamper") / "shop.duckdb"
    with eventlab.EventStore(path, clock=ticking_clock(T0), ids=seeded_ids(3)) as store:
        for i in range(N):
            store.append(f"s-{i % 3}", [NewEvent(
                "Paid" if i % 2 else "Placed", {"i": i}, metadata={"actor": f"user-{i % 4}"},
                occurred_at=T0 - timedelta(hours=i) if i % 2 else None, event_id=uuid.UUID(int=i + 1))])
        assert store.verify().ok
    return path.read_bytes()


@pytest.fixture
def store_file(tmp_path, original):
    path = tmp_path / "shop.duckdb"
    path.write_bytes(original)
    return path


def verify_command(path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", "--db", str(path)])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("edit", TAMPERING)
def test_verify_names_the_first_tampered_position(store_file, edit):
    sql, position = TAMPERING[edit]
    with duckdb.connect(str(store_file)) as con:
        con.execute(sql)
        assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] > 0
    with eventlab.EventStore(store_file, read_only=True) as store:
        report = store.verify()
    assert not report.ok and report.first_bad_position == position, report
    assert str(report).startswith(f"TAMPERED at position {position}: ")
    code, printed, errors = verify_command(store_file)
    assert code == 1 and f"TAMPERED at position {position}" in printed and not errors


def test_an_untouched_log_and_a_no_op_update_verify_ok(store_file):
    with duckdb.connect(str(store_file)) as con:
        con.execute("UPDATE events SET data = data, type = type WHERE position = 5")
    code, printed, _ = verify_command(store_file)
    assert code == 0 and printed.startswith(f"ok: {N} events, chain intact")


def test_tampered_text_that_looks_like_sql_is_only_ever_data(store_file):
    """A tampered value holding SQL is reported, and never run by verify or by reads."""
    with duckdb.connect(str(store_file)) as con:
        con.execute("UPDATE events SET type = $$'); DROP TABLE events; --$$ WHERE position = 3")
    with eventlab.EventStore(store_file) as store:
        assert store.verify().first_bad_position == 3
        assert store.read_all()[2].type == "'); DROP TABLE events; --"
        assert store.count() == N
