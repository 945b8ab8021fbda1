"""The hash chain that makes tampering with the log detectable.

Each event's ``hash`` is ``sha256(prev_hash + sha256(content))``, where content
is every stored column of the row and ``prev_hash`` is the hash of the event
before it. Editing, deleting or reordering a row behind the API's back breaks
the chain at that position, and :func:`verify` finds it. (Anyone with write
access can recompute the whole chain, so this detects accidents and naive edits;
keep a copy of the head hash elsewhere to detect a full rewrite.)

The content is written once in Python (for appends) and once in SQL (for
verification and bulk import, where DuckDB hashes a million rows in one pass);
the two must agree byte for byte, which the tests check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import duckdb

GENESIS = "0" * 64
SEPARATOR = "\x1f"  # the ASCII unit separator: never inside a stream id or a type, escaped in JSON
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)

CONTENT_SQL = (
    "sha256(concat_ws(chr(31), position::VARCHAR, stream_id, version::VARCHAR, type, "
    "schema_version::VARCHAR, event_id::VARCHAR, coalesce(epoch_us(occurred_at)::VARCHAR, ''), "
    "epoch_us(recorded_at)::VARCHAR, data::VARCHAR, metadata::VARCHAR))"
)


def epoch_us(moment: datetime | None) -> str:
    """Microseconds since 1970 as text, as DuckDB's ``epoch_us`` gives them ('' for None)."""
    return "" if moment is None else str((moment - _EPOCH) // _MICROSECOND)


def content_digest(position: int, stream_id: str, version: int, type_: str, schema_version: int,
                   event_id: str, occurred_at: datetime | None, recorded_at: datetime,
                   data: str, metadata: str) -> str:
    """sha256 of one row's content, the same text that :data:`CONTENT_SQL` hashes."""
    text = SEPARATOR.join((
        str(position), stream_id, str(version), type_, str(schema_version), event_id,
        epoch_us(occurred_at), epoch_us(recorded_at), data, metadata,
    ))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link(prev_hash: str, digest: str) -> str:
    """The next hash of the chain."""
    return hashlib.sha256((prev_hash + digest).encode("ascii")).hexdigest()


def link_all(prev_hash: str, digests: list[str]) -> list[str]:
    """Chain a run of content digests onto ``prev_hash``; returns each row's hash."""
    sha256 = hashlib.sha256
    hashes = []
    append = hashes.append
    for digest in digests:
        prev_hash = sha256((prev_hash + digest).encode("ascii")).hexdigest()
        append(prev_hash)
    return hashes


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`EventStore.verify` found: ``ok``, and if not, where and why."""

    ok: bool
    events_checked: int
    first_bad_position: int | None = None
    problem: str = ""
    head_hash: str = GENESIS

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.events_checked} events, chain intact (head {self.head_hash[:12]})"
        return f"TAMPERED at position {self.first_bad_position}: {self.problem}"


def verify(con: duckdb.DuckDBPyConnection) -> VerifyReport:
    """Recompute the chain in SQL and report the first position that does not hold."""
    row = con.execute(f"""
        WITH checked AS (
            SELECT position, hash,
                   row_number() OVER (ORDER BY position) AS expected_position,
                   prev_hash = coalesce(lag(hash) OVER (ORDER BY position), '{GENESIS}') AS linked,
                   hash = sha256(prev_hash || {CONTENT_SQL}) AS intact
            FROM events
        ), bad AS (
            SELECT expected_position,
                   CASE WHEN position <> expected_position
                          THEN 'position ' || expected_position || ' is missing (found '
                               || position || ' in its place): an event was deleted or moved'
                        WHEN NOT intact THEN 'the event''s content or its hash was changed'
                        ELSE 'prev_hash does not match the event before: an event was removed '
                             || 'or reordered'
                   END AS problem
            FROM checked
            WHERE position <> expected_position OR NOT intact OR NOT linked
            ORDER BY expected_position LIMIT 1
        )
        SELECT (SELECT count(*) FROM checked),
               (SELECT hash FROM checked ORDER BY position DESC LIMIT 1),
               (SELECT expected_position FROM bad), (SELECT problem FROM bad)
    """).fetchall()
    count, head, bad_position, problem = row[0]
    if bad_position is None:
        return VerifyReport(True, count, head_hash=head or GENESIS)
    return VerifyReport(False, count, int(bad_position), problem, head or GENESIS)
