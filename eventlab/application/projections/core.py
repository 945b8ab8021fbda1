"""Projections: read models built from the log and kept up to date with a checkpoint.

The write side stores events; a *projection* turns them into tables shaped for
one kind of question ("every open order of user 7"), in the same DuckDB file.
It remembers the last global position it applied (its *checkpoint*, a row of
``projection_checkpoints``), so catching up means applying the events after it.

Each batch of events and the checkpoint move commit in one transaction: a crash
or an exception halfway leaves the read model exactly at the old checkpoint, so
no event is ever applied twice or skipped. Because the log never changes, a read
model can be thrown away and rebuilt from the first event at any time.

A projection says how events change its tables in one of two ways:

- **Python handlers**, ``fn(con, event)`` once per event, in log order. Easy to
  write and to read, but every statement costs DuckDB about a millisecond, so
  they apply a few hundred to a few thousand events per second.
- **SQL**, statements that apply a whole batch at once from the temporary view
  ``batch``. Set-based, as DuckDB likes it: a million events in about a second.

Projection work runs on a connection of its own to the store's database
(``store.cursor()``): appends keep going while a batch is applied, and
readers see the old read model until the batch commits.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import pandas as pd

from eventlab.core.events import RecordedEvent, check_name
from eventlab.errors import EventLabError, StoreError, UsageError
from eventlab.storage.store import SELECT_EVENTS, EventStore, records_from_rows

Handler = Callable[[duckdb.DuckDBPyConnection, RecordedEvent], None]
Method = Literal["auto", "sql", "python"]

CHECKPOINTS_DDL = """
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name       VARCHAR     PRIMARY KEY,  -- the projection
    position   BIGINT      NOT NULL,     -- the last global position applied to its read model
    updated_at TIMESTAMPTZ NOT NULL,     -- when that was committed (wall clock)
    error      VARCHAR                   -- why it stopped, while it is stopped
)"""

_READ_CHUNK = 10_000  # events the Python path holds in memory at a time


@dataclass(frozen=True)
class Projection:
    """A read model: its name, the event types it reads, its tables, and how events change them.

    - ``setup``: SQL creating the tables (and views), idempotent: ``CREATE TABLE IF
      NOT EXISTS ...``, ``CREATE VIEW IF NOT EXISTS ...``;
    - ``tables``: the tables and views ``setup`` creates; ``rebuild`` drops them;
    - ``sql``: the fast path, statements applying a whole batch at once. They read
      the temporary view ``batch``: the batch's events of ``types``, with the
      columns of the ``events`` table, stored data as it is (so a SQL projection
      upcasts old schema versions itself);
    - ``handlers``: the Python path, ``{"OrderPlaced": on_placed, ...}``; each
      ``handler(con, event)`` gets the open transaction and a ``RecordedEvent``
      (``event.event`` is the upcast domain object).

    Give ``sql``, ``handlers`` or both (both must then build the same tables;
    ``catch_up(..., method=...)`` chooses).
    """

    name: str
    types: tuple[str, ...]
    setup: str
    tables: tuple[str, ...]
    sql: str | None = None
    handlers: Mapping[str, Handler] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "projection name")
        for what in ("types", "tables"):
            if isinstance(getattr(self, what), str):
                raise UsageError(f"projection {self.name!r}: {what} must be a list of names, got the "
                                        f"string {getattr(self, what)!r}; write [{getattr(self, what)!r}]")
        object.__setattr__(self, "types", tuple(self.types))
        object.__setattr__(self, "tables", tuple(self.tables))
        for type_name in self.types:
            check_name(type_name, f"projection {self.name!r} event type")
        if self.sql is None and not self.handlers:
            raise UsageError(f"projection {self.name!r} needs sql=..., handlers=... or both")
        unread = sorted(set(self.handlers) - set(self.types))
        if unread:
            raise UsageError(
                f"projection {self.name!r} has handlers for {unread}, which are not in its types "
                f"{list(self.types)}; add them to types= or drop the handlers")


class ProjectionError(EventLabError):
    """A projection failed on an event. ``projection``, ``position`` and ``event`` say where.

    Its read model stays committed up to the event before; after fixing the
    projection, ``catch_up`` resumes from there.
    """

    def __init__(self, message: str, projection: str, position: int, event: RecordedEvent | None):
        super().__init__(message)
        self.projection = projection
        self.position = position
        self.event = event


def catch_up(store: EventStore, projections: Projection | Iterable[Projection], *,
             batch_size: int | None = 100_000, method: Method = "auto",
             progress: bool = False) -> pd.DataFrame:
    """Apply every event after each projection's checkpoint, up to the head of the log.

    Events go in batches of ``batch_size`` positions (None: all in one), each
    committed with its checkpoint. Returns one row per projection: the positions
    applied, how long it took and events per second. A projection that fails
    raises ``ProjectionError`` after the others have caught up.
    """
    projections = as_projection_list(projections)
    check_writable(store)
    reports, failures = [], []
    with store.cursor() as con:
        con.execute(CHECKPOINTS_DDL)
        head = head_position(con)
        for projection in projections:
            with projection_lock(store, projection.name):
                try:
                    reports.append(run_projection(con, projection, head, batch_size, method, progress))
                except ProjectionError as exc:
                    failures.append(exc)
    if failures:
        raise failures[0]
    return pd.DataFrame(reports, columns=_REPORT_COLUMNS)


def rebuild(store: EventStore, projection: Projection, *, batch_size: int | None = None,
            method: Method = "auto", progress: bool = False) -> pd.DataFrame:
    """Drop a projection's tables, reset its checkpoint, and replay the whole log into it.

    Other projections keep going meanwhile. With ``batch_size=None`` (the
    default) the drop and the replay are one transaction: readers see the old
    read model until the new one is complete. Returns the ``catch_up`` report.
    """
    check_writable(store)
    with store.cursor() as con, projection_lock(store, projection.name):
        con.execute(CHECKPOINTS_DDL)
        report = run_projection(con, projection, head_position(con), batch_size, method, progress, reset=True)
    return pd.DataFrame([report], columns=_REPORT_COLUMNS)


def lag(store: EventStore, projections: Projection | Iterable[Projection] | None = None) -> pd.DataFrame:
    """How far behind the head of the log each projection is, in events and in seconds.

    Columns: ``projection``, ``position`` (its checkpoint), ``head``,
    ``events_behind``, ``as_of`` (when the last event it applied was recorded:
    the read model shows the log as it stood then), ``seconds_behind`` (from
    ``as_of`` to the head's ``recorded_at``), ``updated_at`` and ``error``.
    Without ``projections``, every projection that has a checkpoint.
    """
    with store.cursor() as con:
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND table_name = 'projection_checkpoints'").fetchall()[0][0]
        rows = con.execute("SELECT name, position, updated_at, error FROM projection_checkpoints"
                           ).fetchall() if found else []
        checkpoints = {name: rest for name, *rest in rows}
        names = (sorted(checkpoints) if projections is None
                 else [p.name for p in as_projection_list(projections)])
        positions = [checkpoints.get(name, [0])[0] for name in names]
        head = head_position(con)
        times = dict(con.execute("SELECT position, recorded_at FROM events WHERE position IN "
                                 "(SELECT unnest(?::BIGINT[]))", [[*positions, 1, head]]).fetchall())
    rows = []
    for name, position in zip(names, positions):
        _, updated_at, error = checkpoints.get(name, [0, None, None])
        behind = head - position
        since = times.get(position, times.get(1))  # nothing applied yet: behind since the first event
        seconds = (times[head] - since).total_seconds() if behind else 0.0
        rows.append((name, position, head, behind, times.get(position), seconds, updated_at, error))
    return pd.DataFrame(rows, columns=["projection", "position", "head", "events_behind", "as_of",
                                       "seconds_behind", "updated_at", "error"])


# -- the machinery ----------------------------------------------------------------------------

_REPORT_COLUMNS = ["projection", "method", "from_position", "to_position", "events", "seconds",
                   "events_per_second"]


def run_projection(con: duckdb.DuckDBPyConnection, projection: Projection, head: int, batch_size: int | None,
         method: Method, progress: bool, reset: bool = False) -> dict:
    """Catch one projection up to ``head`` (from scratch if ``reset``), batch by batch."""
    path = chosen_method(projection, method)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise UsageError(f"batch_size must be an int >= 1 or None, got {batch_size!r}")
    if not reset:
        con.execute(projection.setup)
    start = position = 0 if reset else checkpoint_of(con, projection.name)
    started = time.perf_counter()
    bar = _progress_bar(progress, head - start, projection.name)
    if reset and head == 0:
        _commit(con, projection, 1, 0, path, reset=True)
    while position < head:
        last = head if batch_size is None else min(head, position + batch_size)
        _commit(con, projection, position + 1, last, path, reset=reset and position == start)
        bar.update(last - position)
        position = last
    bar.close()
    seconds = time.perf_counter() - started
    return {"projection": projection.name, "method": path, "from_position": start + 1,
            "to_position": head, "events": head - start, "seconds": seconds,
            "events_per_second": (head - start) / seconds if seconds else float("nan")}


def _commit(con: duckdb.DuckDBPyConnection, projection: Projection, first: int, last: int,
            path: str, *, reset: bool = False) -> None:
    """Apply positions ``first..last`` and move the checkpoint to ``last``, in one transaction.

    If that fails, the range is split in halves, each committed on its own, until
    the failing event is alone: everything before it is kept, and the error names it.
    """
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if reset:
                _reset(con, projection)
            apply_events(con, projection, first, last, path)
            save_checkpoint(con, projection.name, last)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise
    except StoreError:
        raise  # the file failed (a full disk, a damaged block), not an event: splitting would not help
    except Exception as exc:
        if last <= first:
            raise _failure(con, projection, first, exc, reset) from exc
        middle = (first + last) // 2
        _commit(con, projection, first, middle, path, reset=reset)
        _commit(con, projection, middle + 1, last, path)


def apply_events(con: duckdb.DuckDBPyConnection, projection: Projection, first: int, last: int,
                 path: str) -> None:
    """Apply the events at positions ``first..last`` to the read model (no transaction of its own)."""
    if path == "sql":
        types = ", ".join("'" + t.replace("'", "''") + "'" for t in projection.types) or "NULL"
        con.execute(f"""CREATE OR REPLACE TEMP VIEW batch AS SELECT * EXCLUDE (prev_hash, hash)
                        FROM events WHERE position BETWEEN {int(first)} AND {int(last)}
                        AND type IN ({types})""")
        con.execute(projection.sql)
        return
    for start in range(first, last + 1, _READ_CHUNK):
        for event in read_events(con, start, min(last, start + _READ_CHUNK - 1), projection.types):
            handler = projection.handlers.get(event.type)
            if handler is not None:
                handler(con, event)


def _failure(con: duckdb.DuckDBPyConnection, projection: Projection, position: int,
             cause: Exception, reset: bool) -> ProjectionError:
    """The error for a projection stopped at ``position``, also noted in its checkpoint row."""
    events = read_events(con, position, position)
    event = events[0] if events else None
    what = (f"{event.type} in stream {event.stream_id!r} (version {event.version})" if event
            else "its reset")
    kept = ("The rebuild did not start: the old read model stays as it was" if reset else
            f"Its read model stays committed up to position {position - 1}")
    message = (f"projection {projection.name!r} failed at position {position} on {what}: "
               f"{type(cause).__name__}: {as_sentence(cause)} {kept}; fix the projection, then catch_up "
               f"resumes from there")
    con.execute("""INSERT INTO projection_checkpoints VALUES (?, ?, now(), ?)
                   ON CONFLICT (name) DO UPDATE SET updated_at = now(), error = excluded.error""",
                [projection.name, position - 1, message])
    return ProjectionError(message, projection.name, position, event)


def as_sentence(cause: Exception) -> str:
    """An error's message ending with one full stop, to be followed by more sentences."""
    return f"{str(cause).rstrip().rstrip('.')}."


def _reset(con: duckdb.DuckDBPyConnection, projection: Projection) -> None:
    """Drop the projection's tables and views, forget its checkpoint, and create them anew."""
    kinds = dict(con.execute("""
        SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database()
        UNION ALL
        SELECT view_name, 'VIEW' FROM duckdb_views() WHERE database_name = current_database()
            AND NOT internal AND NOT temporary""").fetchall())
    for name in projection.tables:
        if name in kinds:
            con.execute(f'DROP {kinds[name]} "{name}"')
    con.execute("DELETE FROM projection_checkpoints WHERE name = ?", [projection.name])
    con.execute(projection.setup)


def read_events(con: duckdb.DuckDBPyConnection, first: int, last: int,
                types: Iterable[str] | None = None) -> list[RecordedEvent]:
    """The committed events at positions ``first..last`` (of ``types``), read on connection ``con``."""
    sql, params = f"{SELECT_EVENTS} WHERE position BETWEEN ? AND ?", [first, last]
    if types is not None:
        sql += " AND type IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(types))
    return records_from_rows(con.execute(sql + " ORDER BY position", params).fetchall())


def checkpoint_of(con: duckdb.DuckDBPyConnection, name: str) -> int:
    rows = con.execute("SELECT position FROM projection_checkpoints WHERE name = ?", [name]).fetchall()
    return int(rows[0][0]) if rows else 0


def save_checkpoint(con: duckdb.DuckDBPyConnection, name: str, position: int) -> None:
    con.execute("INSERT OR REPLACE INTO projection_checkpoints VALUES (?, ?, now(), NULL)", [name, position])


def head_position(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(position), 0) FROM events").fetchall()[0][0])


def chosen_method(projection: Projection, method: Method) -> str:
    """Which definition to run: 'sql' or 'python'."""
    if method not in ("auto", "sql", "python"):
        raise UsageError(f"method must be 'auto', 'sql' or 'python', got {method!r}")
    if method == "auto":
        return "sql" if projection.sql is not None else "python"
    if method == "sql" and projection.sql is None:
        raise UsageError(f"projection {projection.name!r} has no sql; use method='python'")
    if method == "python" and not projection.handlers:
        raise UsageError(f"projection {projection.name!r} has no handlers; use method='sql'")
    return method


_locks: weakref.WeakKeyDictionary[EventStore, dict[str, threading.RLock]] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def projection_lock(store: EventStore, name: str) -> threading.RLock:
    """The lock that lets one thread at a time change projection ``name`` of ``store``."""
    with _locks_guard:
        return _locks.setdefault(store, {}).setdefault(name, threading.RLock())


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT may have ended it already
        con.execute("ROLLBACK")


def check_writable(store: EventStore) -> None:
    if store.read_only:
        raise StoreError(f"{store!r} was opened read-only, but read models are tables in the store "
                         f"file; open it without read_only=True to build them")


def as_projection_list(projections: Projection | Iterable[Projection]) -> list[Projection]:
    if isinstance(projections, Projection):
        return [projections]
    projections = list(projections)
    for projection in projections:
        if not isinstance(projection, Projection):
            raise UsageError(f"expected Projection objects, got {projection!r:.80}")
    names = [p.name for p in projections]
    if len(set(names)) != len(names):
        raise UsageError(f"two projections share a name in {names}; names must be unique")
    return projections


def _progress_bar(show: bool, total: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="event", disable=not show)
