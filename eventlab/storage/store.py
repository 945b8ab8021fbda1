"""The event store: an append-only log of events in one DuckDB table.

Every event has a place in its *stream* (``version`` 1, 2, 3 ... per entity) and
in the whole log (``position`` 1, 2, 3 ..., gap-free). Appends state the
version they expect the stream to be at, so two writers that decided on the same
old state cannot both win (optimistic concurrency). Nothing here updates or
deletes an event; a hash chain makes edits behind the API's back detectable.

Speed notes (DuckDB): a statement costs about a millisecond whatever its size,
so a single append is exactly one INSERT, and a :meth:`EventStore.unit_of_work`
commits thousands of appends in one bulk insert. The store keeps each stream's
version in memory so that checking an expected version costs no query; the
table's PRIMARY KEY on position still catches a writer that slipped in from
another connection (its event took the position this store would take).
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa

from eventlab.core import fastpaths
from eventlab.core.events import (
    NewEvent,
    RecordedEvent,
    check_name,
    encode_json,
    payload_of,
    recorded_event,
    type_name_of,
)
from eventlab.core.moments import aware, stored_utc, to_utc, utc_now
from eventlab.errors import ConcurrencyError, InvalidEventError, StoreError, UsageError, shown
from eventlab.storage import bulk, chain, dataset, schema

ExpectedVersion = int | Literal["any", "no stream"]
Clock = Callable[[], datetime]

SELECT_EVENTS = ("SELECT position, stream_id, version, type, data, metadata, event_id, "
                 "recorded_at, occurred_at, schema_version FROM events")
"""The columns ``records_from_rows`` reads, in its order; add a WHERE and an ORDER BY."""
_INSERT_ROW = f"({', '.join(['?'] * len(schema.EVENT_COLUMNS))})"
_INSERT_FROM_ARROW = (
    "INSERT INTO events SELECT position, stream_id, version, type, data::JSON, metadata::JSON, "
    "schema_version, event_id::UUID, occurred_at, recorded_at, prev_hash, hash FROM {table} "
    "ORDER BY position"
)
_ARROW_SCHEMA = pa.schema([
    ("position", pa.int64()), ("stream_id", pa.string()), ("version", pa.int64()),
    ("type", pa.string()), ("data", pa.string()), ("metadata", pa.string()),
    ("schema_version", pa.int32()), ("event_id", pa.string()),
    ("occurred_at", pa.timestamp("us", tz="UTC")), ("recorded_at", pa.timestamp("us", tz="UTC")),
    ("prev_hash", pa.string()), ("hash", pa.string()),
])
_BULK_THRESHOLD = 32  # rows; above this an Arrow insert beats a long VALUES list


@dataclass
class _Head:
    """The last event of the log: where the next one goes and what it chains onto."""

    position: int = 0
    hash: str = chain.GENESIS
    recorded_at: datetime | None = None


@dataclass(slots=True)
class _Draft:
    """An event validated and encoded, not yet placed in the log."""

    type: str
    data: str
    metadata: str
    schema_version: int
    event_id: str
    caller_event_id: bool
    occurred_at: datetime | None
    data_value: dict  # ``data`` and ``metadata`` as they read back from the JSON text
    metadata_value: dict
    uuid: uuid.UUID


@dataclass
class _UnitOfWork:
    """Appends waiting for one commit; reads inside the unit of work see them."""

    head: _Head
    rows: list[tuple] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    read_versions: dict[str, int] = field(default_factory=dict)
    records: dict[str, list[RecordedEvent]] = field(default_factory=dict)


class EventStore:
    """An append-only event log in DuckDB: ``EventStore()`` in memory, ``EventStore("shop.duckdb")`` on disk.

    >>> store = EventStore()
    >>> store.append("order-1", [NewEvent("OrderPlaced", {"items": ["a"]})], expected_version=0)[0].version
    1
    """

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 clock: Clock | None = None, ids: Callable[[], uuid.UUID] | None = None):
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self.clock = clock or utc_now
        self.ids = ids or uuid.uuid4
        """where new event ids come from (see ``eventlab.determinism.seeded_ids`` for repeatable ones)"""
        self._con = schema.connect(path, read_only)
        self._lock = _lock_for(self.path)
        self._head: _Head | None = None
        self._versions: dict[str, int] | None = None
        self._uow: _UnitOfWork | None = None
        self._generation = 0
        """bumped whenever appends are rolled back, so caches built on them know they are stale"""
        self.snapshot_policies: dict[str, int] = {}
        """decider name -> take a snapshot every n events (see ``eventlab.snapshots.every``)"""
        self.dataset: dataset.Dataset | None = None
        """the Parquet dataset this store reads, if it was opened with :meth:`open_dataset`"""

    @classmethod
    def open_dataset(cls, path: str | Path) -> EventStore:
        """A read-only store over a Parquet dataset written by ``export_parquet(path, partition_by=...)``,
        read where it lies (no import): everything that reads a store works on it."""
        store = cls()
        with store._lock:
            store.dataset = dataset.Dataset.attach(store._con, path)
        store.path, store.read_only = store.dataset.root, True
        return store

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database file (pending unit-of-work appends are discarded)."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in memory"
        mode = ", read-only" if self.read_only else ""
        return f"EventStore({where}{mode})"

    # -- writing ---------------------------------------------------------------------------

    def append(self, stream_id: str, events: Sequence[object], expected_version: ExpectedVersion = "any",
               *, metadata: dict | None = None) -> list[RecordedEvent]:
        """Append ``events`` to a stream, all or none, if it is at ``expected_version``.

        ``expected_version`` is the version you read (0 or "no stream" for a new
        stream), or "any" to skip the check. A mismatch raises ``ConcurrencyError``
        and writes nothing. Events whose ``event_id`` is already stored are not
        written again: the stored records come back (safe retries).
        """
        check_name(stream_id, "stream_id")
        expected = _check_expected(expected_version)
        drafts = self._drafts(events, metadata)
        with self._lock:
            self.check_writable()
            already = self._already_stored(stream_id, drafts)
            if already is not None:
                return already
            if self._uow is not None:
                return self._append_pending(self._uow, stream_id, drafts, expected)
            return self._append_now(stream_id, drafts, expected)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[EventStore]:
        """Group many appends into one transaction: all are committed at the end, or none.

        Inside, every append still checks its expected version and reads see the
        appends made so far. Use it to handle thousands of commands per commit.
        A nested ``unit_of_work`` joins the outer one.
        """
        with self._lock:
            if self._uow is not None:
                yield self
                return
            self.check_writable()
            if self._head is not None and self._stored_head() != self._head.position:
                self._invalidate_caches()  # another connection to the file appended: start from the log
            self._load_caches()
            uow = _UnitOfWork(head=dataclasses.replace(self._head))
            self._uow = uow
            try:
                yield self
            except BaseException:
                self._generation += 1  # the unit's appends are discarded
                raise
            finally:
                self._uow = None
            self._commit(uow)

    @property
    def in_unit_of_work(self) -> bool:
        """True while a ``unit_of_work()`` block is open."""
        return self._uow is not None

    def import_events(self, source: pd.DataFrame | str | Path, *, columns: dict[str, str] | None = None,
                      stream_prefix: str = "", sort: bool = False, timezone: str | None = None,
                      progress: bool = False):
        """Bulk-import historical events (a DataFrame, or a Parquet, CSV or JSON Lines file) with their
        own timestamps; a foreign log's columns are mapped with ``columns`` (the XES names need none).

        See :func:`eventlab.storage.bulk.import_events` for the columns it takes.
        """
        return bulk.import_events(self, source, columns=columns, stream_prefix=stream_prefix, sort=sort,
                                  timezone=timezone, progress=progress)

    def export_parquet(self, path: str | Path, partition_by: str | None = None) -> Path:
        """Write the whole log, in global order, to one Parquet file; returns its path.

        With ``partition_by="day"`` (or ``"month"``) it writes a Hive-partitioned dataset
        folder instead, and a later export to it adds only the newer events
        (see :mod:`eventlab.storage.dataset`).
        """
        if partition_by is not None:
            return dataset.export(self, path, partition_by)
        return bulk.export_parquet(self, path)

    # -- reading ---------------------------------------------------------------------------

    def read(self, stream_id: str, from_version: int = 1, to_version: int | None = None
             ) -> list[RecordedEvent]:
        """The events of one stream, in version order (``to_version`` included)."""
        check_name(stream_id, "stream_id")
        with self._lock:
            uow = self._uow
            committed: list[RecordedEvent] = []
            if self._versions is None or self._versions.get(stream_id, 0) >= from_version:
                # The stream alone, cut to the versions here: a bound on version next to stream_id would
                # make DuckDB scan the whole log instead of looking the stream up in its index (and a
                # MATERIALIZED CTE around it costs a few times the lookup).
                # and sorted here: DuckDB's ORDER BY costs more than the lookup for a short stream
                rows = self._con.execute(f"{SELECT_EVENTS} WHERE stream_id = ?", [stream_id]).fetchall()
                rows.sort(key=_VERSION)
                last = to_version if to_version is not None else len(rows)
                committed = records_from_rows(rows[max(0, from_version - 1):max(0, last)])
            if uow is None or stream_id not in uow.records:
                return committed
            pending = [r for r in uow.records[stream_id]
                       if r.version >= from_version and (to_version is None or r.version <= to_version)]
            return committed + pending

    def read_all(self, from_position: int = 1, to_position: int | None = None, *,
                 types: Iterable[str] | None = None, until: datetime | None = None
                 ) -> list[RecordedEvent]:
        """Every event in global order, optionally from/to a position, of some types, or
        recorded at or before ``until``."""
        sql, params = self._where_all(from_position, to_position, types, until)
        with self._lock:
            query = f"{SELECT_EVENTS}{sql} ORDER BY position"
            records = records_from_rows(self._con.execute(query, params).fetchall())
            if self._uow is not None:
                records += [r for rows in self._uow.records.values() for r in rows
                            if _matches(r, from_position, to_position, types, until)]
                records.sort(key=lambda r: r.position)
            return records

    def event_at(self, position: int) -> RecordedEvent | None:
        """The event at one global position (None if there is none): a point read by the log's key."""
        if isinstance(position, bool) or not hasattr(position, "__index__"):
            raise UsageError(f"position must be an int, got {position!r}")
        position = operator.index(position)
        with self._lock:
            found = records_from_rows(self._con.execute(
                f"{SELECT_EVENTS} WHERE position = ?", [position]).fetchall())
            if not found and self._uow is not None:
                found = [r for rows in self._uow.records.values() for r in rows if r.position == position]
            return found[0] if found else None

    def read_df(self, stream_id: str) -> pd.DataFrame:
        """One stream's events as a DataFrame (committed events only)."""
        check_name(stream_id, "stream_id")
        with self._lock:
            return self._con.execute(
                "SELECT * EXCLUDE (prev_hash, hash) FROM events WHERE stream_id = ? ORDER BY version",
                [stream_id]).df()

    def read_all_df(self, from_position: int = 1, to_position: int | None = None, *,
                    types: Iterable[str] | None = None, until: datetime | None = None) -> pd.DataFrame:
        """``read_all`` as a DataFrame, for exploring big logs without Python objects per event."""
        sql, params = self._where_all(from_position, to_position, types, until)
        with self._lock:
            return self._con.execute(
                f"SELECT * EXCLUDE (prev_hash, hash) FROM events{sql} ORDER BY position", params).df()

    def stream_version(self, stream_id: str) -> int:
        """The stream's current version: its number of events, 0 if it does not exist."""
        check_name(stream_id, "stream_id")
        with self._lock:
            if self._uow is not None and stream_id in self._uow.versions:
                return self._uow.versions[stream_id]
            if self._versions is not None:
                return self._versions.get(stream_id, 0)
            row = self._con.execute(
                "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?", [stream_id]).fetchall()
            return int(row[0][0])

    def streams(self, prefix: str | None = None) -> list[str]:
        """The ids of all streams (those starting with ``prefix``), sorted."""
        with self._lock:
            rows = self._con.execute(
                "SELECT DISTINCT stream_id FROM events WHERE starts_with(stream_id, ?) ORDER BY 1",
                [prefix or ""]).fetchall()
            return [row[0] for row in rows]

    def streams_df(self) -> pd.DataFrame:
        """One row per stream: its version, first and last position, and time span."""
        with self._lock:
            return self._con.execute("""
                SELECT stream_id, max(version) AS version, count(*) AS events,
                       min(position) AS first_position, max(position) AS last_position,
                       min(recorded_at) AS first_recorded_at, max(recorded_at) AS last_recorded_at
                FROM events GROUP BY stream_id ORDER BY first_position""").df()

    def count(self, stream_id: str | None = None) -> int:
        """How many events the log (or one stream) holds."""
        with self._lock:
            if stream_id is None:
                return int(self._con.execute("SELECT count(*) FROM events").fetchall()[0][0])
            return int(self._con.execute(
                "SELECT count(*) FROM events WHERE stream_id = ?", [stream_id]).fetchall()[0][0])

    def counts_df(self) -> pd.DataFrame:
        """Events per type, most frequent first."""
        with self._lock:
            return self._con.execute(
                "SELECT type, count(*) AS events FROM events GROUP BY type ORDER BY events DESC, type").df()

    @property
    def head_position(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        with self._lock:
            if self._uow is not None:
                return self._uow.head.position
            return int(self._con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0])

    def sql(self, query: str, params: Sequence[Any] | dict | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL on the store's connection: ``store.sql("SELECT ...").df()``.

        For exploration. Appends made inside an open unit of work are not visible
        here until it commits. Changing ``events`` with SQL is tampering, and
        :meth:`verify` will say so.
        """
        with self._lock:
            return self._con.sql(query, params=params)

    def events_up_to(self, position: int | None = None, as_of: datetime | None = None) -> str:
        """The relation to read the events up to ``position`` or recorded by ``as_of`` from: ``events``,
        or for a dataset only the files that can hold them (the caller still filters the rows)."""
        return "events" if self.dataset is None else self.dataset.up_to(position, as_of)

    def verify(self) -> chain.VerifyReport:
        """Recompute the hash chain; ``.ok`` is False if the log was edited behind the API's back,
        and ``.first_bad_position`` says where."""
        with self._lock:
            return chain.verify(self._con)

    # -- the surface for eventlab's other layers (and for users who want the same) ------------

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a read query under the store's lock and fetch all its rows (committed events only)."""
        with self._lock:
            return self._con.execute(query, list(params)).fetchall()

    def arrow(self, query: str, params: Sequence[Any] = ()) -> pa.Table:
        """Like :meth:`rows`, as an Arrow table (fast for long results)."""
        with self._lock:
            try:  # a relation runs past the guarded connection, so its file faults are caught here
                return self._con.sql(query, params=list(params)).to_arrow_table()
            except duckdb.Error as exc:
                fault = schema.file_fault(self.path, exc)
                if fault is None:
                    raise
                raise fault from None

    def frame(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Like :meth:`rows`, as a DataFrame."""
        with self._lock:
            return self._con.execute(query, list(params)).df()

    @contextlib.contextmanager
    def connection(self) -> Iterator[schema.GuardedConnection]:
        """The store's own DuckDB connection, held under its lock for the ``with`` block.

        For work that must share the store's transactions: an inline projection
        updates its read model in the same transaction as the appends inside it,
        a snapshot is written beside the events. Appends from other threads wait
        for the block. Writing to ``events`` through it is tampering (``verify``
        finds it); call :meth:`refresh` after rolling back appends.
        """
        with self._lock:
            yield self._con

    @contextlib.contextmanager
    def transaction(self) -> Iterator[schema.GuardedConnection]:
        """Appends and writes to other tables of the store's file, committed together or not at all.

        >>> with store.transaction() as con:                        # doctest: +SKIP
        ...     store.append("order-1", [event], expected_version=0)
        ...     con.execute("INSERT INTO outbox VALUES (...)")

        The block gets the store's own connection inside an open transaction: an
        outbox row or a consumer's "processed" mark commits with the events, so no
        crash can leave one without the other. If the block raises, everything in
        it is rolled back and the store forgets what it had cached of those appends.
        Not inside a ``unit_of_work`` (which commits on its own).
        """
        with self._lock:
            self.check_writable()
            if self._uow is not None:
                raise StoreError("transaction() cannot run inside a unit_of_work, which commits on its own; "
                                 "open the transaction outside it and append there")
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
                self._con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                self._invalidate_caches()
                raise

    @contextlib.contextmanager
    def cursor(self) -> Iterator[schema.GuardedConnection]:
        """A connection of its own to the store's database, in UTC, closed after the ``with`` block.

        Its transactions run beside the store's: a projection applies a batch on a
        cursor while appends go on.
        """
        with self._lock:
            con = self._con.cursor()
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @property
    def generation(self) -> int:
        """A counter bumped whenever appends this store made are rolled back or its caches refreshed.

        A cache of states built on this store is stale once the generation moved on.
        """
        return self._generation

    def refresh(self) -> None:
        """Forget what the store remembers of the log (its head, every stream's version) and read it anew.

        Needed after appends were rolled back behind the store's back, e.g. by a
        transaction opened with :meth:`connection`; it bumps :attr:`generation`.
        """
        with self._lock:
            self._invalidate_caches()

    def check_writable(self, purpose: str = "write") -> None:
        """Raise ``StoreError`` if the store was opened read-only; ``purpose`` says what needed writing."""
        if self.read_only:
            raise StoreError(f"{self!r} was opened read-only, so it cannot {purpose}; "
                             f"open it without read_only=True")

    # -- internals -------------------------------------------------------------------------

    def _load_caches(self) -> None:
        """Read the head of the log and every stream's version, once per store object."""
        if self._head is None:
            row = self._con.execute(
                "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1").fetchall()
            self._head = _Head(row[0][0], row[0][1], stored_utc(row[0][2])) if row else _Head()
        if self._versions is None:
            rows = self._con.execute(
                "SELECT stream_id, max(version) FROM events GROUP BY stream_id").fetchall()
            self._versions = dict(rows)

    def _stored_version(self, stream_id: str) -> int:
        """A stream's version as stored, past the cache (which another connection may have outdated)."""
        return int(self._con.execute("SELECT coalesce(max(version), 0) FROM events WHERE stream_id = ?",
                                     [stream_id]).fetchall()[0][0])

    def _stored_head(self) -> int:
        return int(self._con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0])

    def _invalidate_caches(self) -> None:
        self._generation += 1
        self._head = None
        self._versions = None

    def _drafts(self, events: Sequence[object], metadata: dict | None) -> list[_Draft]:
        if isinstance(events, (str, bytes, dict)) or not isinstance(events, (list, tuple)):
            raise InvalidEventError(
                f"events must be a list of events, got {type(events).__name__} ({shown(events, 80)}); "
                f"wrap a single event in a list: append(stream_id, [event], ...)"
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidEventError(f"metadata must be a dict, got {shown(metadata, 80)}")
        drafts = [_draft(event, metadata or {}, i, self.ids) for i, event in enumerate(events)]
        ids = [d.event_id for d in drafts]
        if len(set(ids)) != len(ids):
            raise InvalidEventError(f"the same event_id appears twice in one append: {ids}")
        return drafts

    def _already_stored(self, stream_id: str, drafts: list[_Draft]) -> list[RecordedEvent] | None:
        """The stored records if these events were appended before (an idempotent retry)."""
        given = [d.event_id for d in drafts if d.caller_event_id]
        if not given:
            return None
        found = {str(r.event_id): r for r in records_from_rows(self._con.execute(
            f"{SELECT_EVENTS} WHERE event_id IN (SELECT unnest(?::UUID[]))", [given]).fetchall())}
        if self._uow is not None:
            found.update({str(r.event_id): r for rows in self._uow.records.values()
                          for r in rows if str(r.event_id) in given})
        if not found:
            return None
        if len(found) != len(drafts):
            raise InvalidEventError(
                f"{len(found)} of these {len(drafts)} events are stored already (event ids "
                f"{sorted(found)[:3]}...); append the new ones on their own"
            )
        wrong = [r for r in found.values() if r.stream_id != stream_id]
        if wrong:
            raise InvalidEventError(
                f"event {wrong[0].event_id} is stored already in stream {wrong[0].stream_id!r}, "
                f"not {stream_id!r}; event ids are unique across the whole log"
            )
        return [found[d.event_id] for d in drafts]

    def _recorded_at(self, head: _Head) -> datetime:
        moment = self.clock()
        if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidEventError(
                f"the store's clock returned {moment!r}; it must return a timezone-aware "
                f"datetime, e.g. datetime.now(timezone.utc)"
            )
        moment = to_utc(moment, "the store's clock returned", InvalidEventError)
        # recorded_at never goes backwards, so "as of T" is always a prefix of the log
        return moment if head.recorded_at is None or moment >= head.recorded_at else head.recorded_at

    def _place(self, head: _Head, stream_id: str, version: int, drafts: list[_Draft]
               ) -> tuple[list[tuple], list[RecordedEvent], _Head]:
        """Give drafts their positions, versions, time and hashes after ``head``."""
        recorded_at = self._recorded_at(head)
        rows, records = [], []
        position, prev_hash = head.position, head.hash
        for draft in drafts:
            position += 1
            version += 1
            digest = chain.content_digest(
                position, stream_id, version, draft.type, draft.schema_version, draft.event_id,
                draft.occurred_at, recorded_at, draft.data, draft.metadata)
            hash_ = chain.link(prev_hash, digest)
            rows.append((position, stream_id, version, draft.type, draft.data, draft.metadata,
                         draft.schema_version, draft.event_id, draft.occurred_at, recorded_at,
                         prev_hash, hash_))
            records.append(recorded_event(
                stream_id, version, position, draft.type, draft.data_value, draft.metadata_value,
                draft.uuid, recorded_at, draft.occurred_at, draft.schema_version))
            prev_hash = hash_
        return rows, records, _Head(position, prev_hash, recorded_at)

    def _append_now(self, stream_id: str, drafts: list[_Draft], expected: ExpectedVersion
                    ) -> list[RecordedEvent]:
        for attempt in (1, 2, 3):
            self._load_caches()
            actual = self._versions.get(stream_id, 0)
            mismatch = expected != "any" and (0 if expected == "no stream" else expected) != actual
            if attempt == 1 and mismatch and self._stored_version(stream_id) != actual:
                self._invalidate_caches()  # another connection to the file wrote to this stream: look again
                continue
            _check_version(stream_id, expected, actual)
            if not drafts:
                return []
            rows, records, head = self._place(self._head, stream_id, actual, drafts)
            self._refuse_repeated_ids(rows)
            try:
                self._insert(rows)
            except duckdb.ConstraintException as exc:
                # another connection wrote since we cached the head: reload and look again
                self._invalidate_caches()
                if attempt == 3:
                    raise StoreError(f"another connection to this store kept appending at the same moment; "
                                     f"nothing was written, try again ({str(exc).splitlines()[0]})") from None
                continue
            self._head = head
            self._versions[stream_id] = records[-1].version
            return records
        raise AssertionError("unreachable")

    def _append_pending(self, uow: _UnitOfWork, stream_id: str, drafts: list[_Draft],
                        expected: ExpectedVersion) -> list[RecordedEvent]:
        actual = uow.versions.get(stream_id, self._versions.get(stream_id, 0))
        _check_version(stream_id, expected, actual)
        if not drafts:
            return []
        uow.read_versions.setdefault(stream_id, actual)
        rows, records, uow.head = self._place(uow.head, stream_id, actual, drafts)
        uow.rows.extend(rows)
        uow.records.setdefault(stream_id, []).extend(records)
        uow.versions[stream_id] = records[-1].version
        return records

    def _commit(self, uow: _UnitOfWork) -> None:
        if not uow.rows:
            return
        self._refuse_repeated_ids(uow.rows)
        self._con.execute("BEGIN TRANSACTION")
        try:
            self._insert(uow.rows)
            self._con.execute("COMMIT")
        except StoreError:  # a file fault (disk full, damage): rolled back already, nothing was written
            self._invalidate_caches()
            raise
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT ended it already
                self._con.execute("ROLLBACK")
            self._invalidate_caches()
            self._load_caches()
            for stream_id, version in uow.read_versions.items():
                if self._versions.get(stream_id, 0) != version:
                    raise ConcurrencyError(stream_id, version, self._versions.get(stream_id, 0)) from None
            clash = isinstance(exc, (duckdb.ConstraintException, duckdb.TransactionException))
            raise StoreError(f"the unit of work could not be committed, nothing was written: {exc}" + (
                "; another connection to this store appended meanwhile: run the unit of work again"
                if clash else "")) from exc
        self._head = uow.head
        self._versions.update(uow.versions)

    def _insert(self, rows: list[tuple]) -> None:
        if len(rows) <= _BULK_THRESHOLD:
            self._con.execute(
                f"INSERT INTO events VALUES {', '.join([_INSERT_ROW] * len(rows))}",
                [value for row in rows for value in row])
            return
        columns = zip(zip(*rows), _ARROW_SCHEMA.types)  # a whole column at a time, at C speed
        table = pa.Table.from_arrays([pa.array(values, kind) for values, kind in columns],
                                     schema=_ARROW_SCHEMA)
        self._con.register("eventlab_pending", table)
        try:
            self._con.execute(_INSERT_FROM_ARROW.format(table="eventlab_pending"))
        finally:
            self._con.unregister("eventlab_pending")

    def _refuse_repeated_ids(self, rows: list[tuple]) -> None:
        """Event ids are unique across the log; no index says so (schema 2), so the store checks new rows
        whose ids came from a custom ``ids`` function: uuid4's do not repeat, a seeded function's may."""
        if self.ids is uuid.uuid4:
            return
        ids = [row[7] for row in rows]
        stored = self._con.execute("SELECT event_id, position FROM events WHERE event_id IN "
                                   "(SELECT unnest(?::UUID[])) LIMIT 1", [ids]).fetchall()
        repeated = [(event_id, f"stored already at position {position}") for event_id, position in stored]
        if not repeated and len(set(ids)) != len(ids):
            repeated = [(next(i for i in ids if ids.count(i) > 1), "given twice in this write")]
        if repeated:
            event_id, where = repeated[0]
            self._invalidate_caches()  # a unit of work refused here: states built on its appends are stale
            raise StoreError(f"the store's ids function gave event id {event_id}, {where}; nothing was "
                             f"written. Ids must be unique across the log: a seeded function repeats its ids "
                             f"when run again over the same file, so give each run its own seed")

    @staticmethod
    def _where_all(from_position: int, to_position: int | None, types: Iterable[str] | None,
                   until: datetime | None) -> tuple[str, list[Any]]:
        clauses, params = [" WHERE position >= ?"], [from_position]
        if to_position is not None:
            clauses.append("position <= ?")
            params.append(to_position)
        if types is not None:
            clauses.append("type IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(types))
        if until is not None:
            clauses.append("recorded_at <= ?")
            params.append(aware(until, "until"))
        return " AND ".join(clauses), params


_file_locks: weakref.WeakValueDictionary[str, threading.RLock] = weakref.WeakValueDictionary()
_file_locks_guard = threading.Lock()


def _lock_for(path: Path | None) -> threading.RLock:
    """The lock of a store: shared by every EventStore on the same file in this process.

    Only one process can write a file, so sharing the lock within it makes writers on
    one file take turns as if they were one store: none can slip an event in between
    another's reading the head of the log and appending after it.
    """
    if path is None:
        return threading.RLock()
    key = str(path.resolve())
    with _file_locks_guard:
        lock = _file_locks.get(key)
        if lock is None:
            lock = _file_locks[key] = threading.RLock()
        return lock


def _payload(event: object, where: str) -> dict:
    try:
        return payload_of(event)
    except RecursionError:
        raise InvalidEventError(f"{where} ({type(event).__name__}) holds a list or dict that contains "
                                f"itself, or is nested too deeply to store; flatten it") from None


def _draft(event: object, metadata: dict, index: int, ids: Callable[[], uuid.UUID]) -> _Draft:
    where = f"event {index}"
    if isinstance(event, (NewEvent, RecordedEvent)):
        if not isinstance(event.metadata, dict):
            raise InvalidEventError(f"{where} metadata must be a dict, got {shown(event.metadata, 80)}")
        type_name, data, meta = event.type, event.data, {**metadata, **event.metadata}
        given_id, occurred_at, schema_version = event.event_id, event.occurred_at, event.schema_version
        fresh = False  # the caller's dict: the record gets its own copy
    elif dataclasses.is_dataclass(event) and not isinstance(event, type):
        type_name, data, meta = type_name_of(event), _payload(event, where), metadata
        fresh = True  # made just now from the event's fields
        given_id, occurred_at = None, None
        schema_version = type(event).__eventlab_schema_version__
    else:
        raise InvalidEventError(
            f"{where} is a {type(event).__name__} ({shown(event, 80)}); give a dataclass event "
            f"(see eventlab.event_type) or eventlab.NewEvent(type, data)"
        )
    check_name(type_name, f"{where} type")
    if not isinstance(data, dict):
        raise InvalidEventError(f"{where} ({type_name}) data must be a dict, got {shown(data, 80)}")
    if isinstance(schema_version, bool) or not isinstance(schema_version, int) \
            or not 1 <= schema_version < 2**31:
        raise InvalidEventError(f"{where} schema_version must be an int from 1 to 2**31 - 1, "
                                f"got {shown(schema_version, 80)}")
    if occurred_at is not None:
        what = f"{where} occurred_at"
        occurred_at = to_utc(aware(occurred_at, what, InvalidEventError), what, InvalidEventError)
    data_text, data_value = encode_json(data, f"{where} ({type_name}) data", fresh=fresh)
    metadata_text, metadata_value = encode_json(meta, f"{where} metadata")
    event_id = _event_id(given_id, where, ids)
    return _Draft(type_name, data_text, metadata_text, schema_version, str(event_id), given_id is not None,
                  occurred_at, data_value, metadata_value, event_id)


def _event_id(given: object, where: str, ids: Callable[[], uuid.UUID]) -> uuid.UUID:
    if given is None:
        given = ids()
    if isinstance(given, uuid.UUID):
        return given
    try:
        return uuid.UUID(str(given))
    except ValueError:
        raise InvalidEventError(f"{where} event_id {shown(given, 80)} is not a UUID") from None


def _check_expected(expected: object) -> ExpectedVersion:
    if expected in ("any", "no stream"):
        return expected
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise InvalidEventError(
            f"expected_version must be an int >= 0, 'no stream' or 'any', got {shown(expected, 80)}"
        )
    return expected


def _check_version(stream_id: str, expected: ExpectedVersion, actual: int) -> None:
    if expected == "any":
        return
    if (0 if expected == "no stream" else expected) != actual:
        raise ConcurrencyError(stream_id, expected, actual)


def records_from_rows(rows: list[tuple]) -> list[RecordedEvent]:
    """``RecordedEvent``s from rows selected with ``SELECT_EVENTS`` (on any connection to the store).

    The JSON of a batch of rows is parsed in one call (``fastpaths.loads`` of a JSON
    list of them), a few times faster than ``json.loads`` row by row.
    """
    records = []
    for start in range(0, len(rows), _PARSE_BATCH):
        batch = rows[start:start + _PARSE_BATCH]
        datas, metadatas = (fastpaths.loads(f"[{','.join([row[column] for row in batch])}]".encode())
                            for column in (4, 5))
        records += [recorded_event(stream_id, version, position, type_, data, metadata, event_id,
                                   stored_utc(recorded_at), stored_utc(occurred_at), schema_version)
                    for (position, stream_id, version, type_, _, _, event_id, recorded_at, occurred_at,
                         schema_version), data, metadata in zip(batch, datas, metadatas, strict=True)]
    return records


_PARSE_BATCH = 10_000
"""rows whose JSON ``records_from_rows`` parses at once (its text is held twice meanwhile)"""
_VERSION = operator.itemgetter(2)
"""a ``SELECT_EVENTS`` row's version"""


def _matches(record: RecordedEvent, from_position: int, to_position: int | None,
             types: Iterable[str] | None, until: datetime | None) -> bool:
    return (record.position >= from_position
            and (to_position is None or record.position <= to_position)
            and (types is None or record.type in set(types))
            and (until is None or record.recorded_at <= until))


__all__ = ["Clock", "EventStore", "ExpectedVersion", "SELECT_EVENTS", "records_from_rows"]
