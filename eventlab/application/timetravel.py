"""Time travel: the state of one entity, or of the whole system, at any point of the log.

Because state is only ever ``replay(events)``, the past is one question away:
replay the events up to a version, a global position or a moment, and you have
the state as it stood then. Three ways to name the point:

- ``version=v``: after the stream's first v events;
- ``position=p``: after the log's first p events (a point in the whole system);
- ``as_of=t``: what the store had *recorded* by moment t ("what did we know at
  t?"). With ``time="occurred"`` it asks instead which events had *happened* by t
  according to their business time ``occurred_at``, as we know it now; the two
  differ when events arrive late.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import operator
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eventlab.application import latest_values, replaying, snapshots
from eventlab.core import fastpaths
from eventlab.core.decider import Decider, fold_events, replay
from eventlab.core.events import RecordedEvent
from eventlab.core.fastpaths import gc_paused
from eventlab.core.moments import aware
from eventlab.errors import UsageError
from eventlab.storage.schema import file_fault
from eventlab.storage.store import SELECT_EVENTS, EventStore, records_from_rows

TimeAxis = Literal["recorded", "occurred"]


def state_at(store: EventStore, stream_id: str, decider: Decider, *, version: int | None = None,
             position: int | None = None, as_of: datetime | None = None,
             time: TimeAxis = "recorded") -> Any:
    """The state of one stream after ``version``, after global ``position``, or ``as_of`` a moment.

    Give at most one of the three (none means now). Before the stream's first
    event the state is ``decider.initial_state``; events recorded exactly at
    ``as_of`` are included.
    """
    check_point(version=version, position=position, as_of=as_of)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise UsageError(f"version must be an int >= 0, got {version!r}")
    where, params = _bound_sql(position, as_of, time)
    if version is not None:
        where += " AND version <= ?"
        params.append(version)
    if store.in_unit_of_work:  # appends not yet committed live in the unit of work, not in SQL
        pending = _until(store.read(stream_id, to_version=version), position, as_of, time)
        return replay(pending, decider)
    if time == "occurred":  # snapshots and positions follow recorded time, not business time
        return replaying.stream_state(store, stream_id, decider, where=where, params=params)
    snapshot = snapshots.latest(store, stream_id, decider, version=version, position=position, as_of=as_of)
    if snapshot is None:  # every snapshot is past the point, so the events wanted all lie before the
        # oldest one: read that stretch of the log, not the whole stream (by its index ~25 µs an event,
        # or, past schema.INDEX_SCAN_ROWS events, a scan of the whole log)
        oldest = snapshots.next_position(store, stream_id, decider, 0)
        return replaying.stream_state(store, stream_id, decider, where=where, params=params,
                                      between=None if oldest is None else (0, oldest))
    # only the stretch of the log from this snapshot to the next one can hold the events wanted:
    # read it by position instead of fetching the whole stream by its index
    between = (snapshot.position, snapshots.next_position(store, stream_id, decider, snapshot.version))
    return replaying.stream_state(store, stream_id, decider, after=snapshot.version, state=snapshot.state,
                                  where=where, params=params, between=between)


def history(store: EventStore, stream_id: str, decider: Decider, *, last: int | None = None,
            versions: tuple[int, int] | None = None) -> pd.DataFrame:
    """One row per event of a stream: position, version, type, times, and the state after it.

    The raw material of audit trails, pictures of state evolving and the time slider.
    A page of a long stream: ``last=50`` (its last 50 events) or ``versions=(1001, 1050)``
    (both included). A page starts from the state before its first event, which
    ``state_at`` finds from the newest snapshot below it, so with snapshots a page
    costs about the same on any stream, however long.
    """
    first, end = _page(store, stream_id, last, versions)
    state = state_at(store, stream_id, decider, version=first - 1) if first > 1 else decider.initial_state
    rows = []
    for record in _page_events(store, stream_id, decider, first, end):
        state = replay([record], decider, state)
        rows.append({"position": record.position, "version": record.version, "type": record.type,
                     "recorded_at": record.recorded_at, "occurred_at": record.occurred_at,
                     **state_row(state)})
    columns = _columns(["position", "version", "type", "recorded_at", "occurred_at"], decider, rows)
    return pd.DataFrame(rows, columns=columns)


def _page_events(store: EventStore, stream_id: str, decider: Decider, first: int,
                 end: int | None) -> list[RecordedEvent]:
    """The stream's events from version ``first`` to ``end``: read by position between the snapshots
    around them when there are some (a stretch of the log), else as ``store.read`` reads them."""
    if store.in_unit_of_work:  # its pending events are not in SQL yet
        return store.read(stream_id, first, end)
    below = snapshots.latest(store, stream_id, decider, version=first - 1) if first > 1 else None
    above = snapshots.next_position(store, stream_id, decider, end if end is not None else 2**62)
    if below is None and above is None:
        return store.read(stream_id, first, end)
    return records_from_rows(store.rows(
        f"{SELECT_EVENTS} WHERE position > ? AND position <= ? AND stream_id = ? AND version >= ? "
        f"AND version <= ? ORDER BY position",
        [below.position if below is not None else 0, above if above is not None else 2**62, stream_id,
         first, end if end is not None else 2**62]))


def _page(store: EventStore, stream_id: str, last: int | None,
          versions: tuple[int, int] | None) -> tuple[int, int | None]:
    """The first and last version (None: to the end) of the page of ``history`` asked for."""
    if last is not None and versions is not None:
        raise UsageError("give history(...) last=N or versions=(first, last), not both")
    if last is not None:
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise UsageError(f"last must be an int >= 1 (how many of the newest events), got {last!r}")
        return max(1, store.stream_version(stream_id) - last + 1), None
    if versions is None:
        return 1, None
    if (not isinstance(versions, tuple) or len(versions) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in versions)
            or not 1 <= versions[0] <= versions[1]):
        raise UsageError(f"versions must be (first, last) with 1 <= first <= last, got {versions!r}")
    return versions


def states_at(store: EventStore, decider: Decider, *, position: int | None = None,
              as_of: datetime | None = None, time: TimeAxis = "recorded",
              method: Literal["auto", "sql", "python"] = "auto") -> pd.DataFrame:
    """The whole system at a point: one row per stream of the decider's category that existed then.

    Columns: ``stream_id`` and one per state field, rows sorted by stream_id.
    When the decider has a ``state_sql`` definition, DuckDB computes all states
    in one vectorized query (``method="auto"`` or ``"sql"``); otherwise each
    stream is replayed in Python. Both give the same table.
    """
    check_point(position=position, as_of=as_of)
    if method not in ("auto", "sql", "python"):
        raise UsageError(f"method must be 'auto', 'sql' or 'python', got {method!r}")
    if method == "sql" and decider.state_sql is None:
        raise UsageError(
            f"decider {decider.name!r} has no state_sql; use method='python' or 'auto'")
    where, params = _bound_sql(position, as_of, time)
    prefix = f"{decider.category}-" if decider.category else ""
    # a store over a Parquet dataset reads only the files that can hold these events
    source = store.events_up_to(position=position, as_of=as_of if time == "recorded" else None)
    if decider.state_sql is not None and method != "python":
        return _states_sql(store, decider, prefix, f"{source} AS events WHERE {where}", params)
    return _states_python(store, decider, prefix, f"{source} AS events WHERE {where}", params)


def state_columns(decider: Decider) -> list[str]:
    """The state's field names, as ``states_at`` and ``history`` lay them out."""
    return list(state_row(decider.initial_state))


def _columns(leading: list[str], decider: Decider, rows: list[dict[str, Any]]) -> list[str]:
    """``leading``, the state's fields, then any keys a dict state gained on the way, sorted."""
    known = [*leading, *state_columns(decider)]
    if not isinstance(decider.initial_state, dict) or not rows:
        return known
    return known + sorted(set().union(*rows) - set(known))


def state_row(state: Any) -> dict[str, Any]:
    """A state as a flat dict of plain values (enums become their values)."""
    if dataclasses.is_dataclass(state):
        fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    elif isinstance(state, dict):
        fields = dict(state)
    else:
        fields = {"state": state}
    return {name: value.value if isinstance(value, enum.Enum) else value for name, value in fields.items()}


def check_point(**points: Any) -> None:
    """Refuse more than one point of time, and a position or moment that is not one."""
    given = [name for name, value in points.items() if value is not None]
    if len(given) > 1:
        raise UsageError(f"give one of {', '.join(points)}, not {' and '.join(given)}")
    if points.get("position") is not None:
        position = points["position"]
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise UsageError(f"position must be an int >= 0, got {position!r}")
    if points.get("as_of") is not None:
        aware(points["as_of"], "as_of")


def _check_time(time: str) -> None:
    if time not in ("recorded", "occurred"):
        raise UsageError(f"time must be 'recorded' or 'occurred', got {time!r}")


def _until(events: list[RecordedEvent], position: int | None, as_of: datetime | None,
           time: TimeAxis) -> Iterator[RecordedEvent]:
    _check_time(time)
    for event in events:
        if position is not None and event.position > position:
            return
        if as_of is not None:
            moment = event.occurred_at if time == "occurred" and event.occurred_at else event.recorded_at
            if moment > as_of:
                if time == "recorded":
                    return  # recorded_at never decreases along the log
                continue
        yield event


def _bound_sql(position: int | None, as_of: datetime | None, time: TimeAxis) -> tuple[str, list[Any]]:
    _check_time(time)
    if position is not None:
        return "position <= ?", [position]
    if as_of is not None and time == "recorded":
        return "recorded_at <= ?", [as_of]
    if as_of is not None:
        return "coalesce(occurred_at, recorded_at) <= ?", [as_of]
    return "true", []


def _states_sql(store: EventStore, decider: Decider, prefix: str, events: str, params: list) -> pd.DataFrame:
    """``events`` is the relation and the condition after FROM: ``events WHERE position <= ?``."""
    # NOT MATERIALIZED: each use of stream_events in the state SQL is its own scan of events, which
    # reads only the rows and columns that use needs, instead of one buffered copy of every event
    # (JSON data included) shared by all uses.
    with_stream_events = f"""
        WITH stream_events AS NOT MATERIALIZED (
            SELECT * FROM {events} AND starts_with(stream_id, ?)
        )"""
    query = f"{with_stream_events} SELECT * FROM ({decider.state_sql})"
    columns = ["stream_id", *state_columns(decider), *([decider.spread] if decider.spread else [])]
    table = frame = None
    with store.connection() as con:
        try:
            if decider.spread and decider.state_sql == latest_values.STATE_SQL:  # its fast form
                return latest_values.frame_by_field(con, with_stream_events, [*params, prefix])
            relation = con.sql(query, params=[*params, prefix])
            if sorted(relation.columns) != sorted(columns):
                raise UsageError(
                    f"decider {decider.name!r}: state_sql returns the columns {relation.columns}, but "
                    f"the state has {columns}; make them match")
            if decider.spread:
                return _spread(relation.to_arrow_table(), decider.spread)
            # Arrow hands the rows to pandas several times faster than .df(), which makes a NumPy
            # array of every list; .df() stays the reference, and the way for other column types.
            types = dict(zip(relation.columns, map(str, relation.types), strict=True))
            lists = [name for name in columns if types[name].endswith("[]")]
            if all(kind.removesuffix("[]") in _ARROW_READY for kind in types.values()):
                table = relation.to_arrow_table().select(columns)
            if table is None or not table.num_rows or any(table.column(name).null_count for name in lists):
                frame = relation.order("stream_id").df()[columns]
        except duckdb.Error as exc:
            fault = file_fault(store.path, exc)
            if fault is None:
                raise
            raise fault from None
    if frame is None:
        return _frame_from_arrow(table, lists)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [v.tolist() if isinstance(v, np.ndarray) else v for v in frame[column]]
    return frame


def _spread(table: pa.Table, column: str) -> pd.DataFrame:
    """The table sorted by stream_id, with ``column``'s JSON objects as columns after the others, sorted:
    laid out as the Python path lays out dict states that gained keys."""
    if not table.num_rows:  # as an empty Python path is: no rows, so no types
        return pd.DataFrame([], columns=[name for name in table.column_names if name != column])
    table = table.take(pc.sort_indices(table.column("stream_id")))
    whole = pa.ListArray.from_arrays(pa.array([0, table.num_rows], pa.int32()),
                                     table.column(column).combine_chunks())
    objects = fastpaths.loads(b"[" + pc.binary_join(whole, ",").cast(pa.binary())[0].as_py() + b"]")
    known = table.drop_columns([column]).to_pandas()
    extra = pd.DataFrame(objects, index=known.index)
    return pd.concat([known, extra[sorted(extra.columns)]], axis=1) if len(extra.columns) else known


_ARROW_READY = {"VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN"}
"""Column types (and lists of them) that pandas gets from Arrow exactly as DuckDB's ``.df()`` gives them."""


def _frame_from_arrow(table: pa.Table, lists: list[str]) -> pd.DataFrame:
    """What ``.df()`` gives (nullable Int64/Int32/boolean where a column has NULLs), with lists as lists,
    sorted by stream_id.

    Sorting here costs less than an ORDER BY in the query, which sorts whole rows,
    lists and all: Arrow sorts the key alone, then puts the columns in its order.
    """
    table = table.take(pc.sort_indices(table.column("stream_id")))
    nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}
    data = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in lists:
            with gc_paused():  # a list per row: the collector would rescan them all again and again
                data[name] = pd.Series(column.to_pylist(), dtype=object)
        else:
            data[name] = column.to_pandas(types_mapper=nullable.get if column.null_count else None)
    return pd.DataFrame(data)


def _states_python(store: EventStore, decider: Decider, prefix: str, events: str,
                   params: list) -> pd.DataFrame:
    if decider.raw:
        return _states_raw(store, decider, prefix, events, params)
    query = f"""SELECT stream_id, type, data, schema_version FROM {events}
                AND starts_with(stream_id, ?) ORDER BY stream_id, position"""
    table: list[dict[str, Any]] = []
    with store.connection() as con:  # batches of rows as DuckDB hands them over, not the whole log at once
        carried = None  # the rows of the last stream of a batch, which may go on in the next one
        for batch in con.sql(query, params=[*params, prefix]).to_arrow_reader(DECODE_ROWS):
            rows = pa.Table.from_batches([batch])
            rows = rows if carried is None else pa.concat_tables([carried, rows])
            starts = _run_starts(rows.column("stream_id"))
            table += _fold_streams(rows.slice(0, starts[-1]), starts[:-1], decider)
            carried = rows.slice(starts[-1])
        if carried is not None:
            table += _fold_streams(carried, [0], decider)
    return pd.DataFrame(table, columns=_columns(["stream_id"], decider, table))


def _fold_streams(rows: pa.Table, starts: list[int], decider: Decider) -> list[dict[str, Any]]:
    """The state of each stream in ``rows`` (sorted by stream, starting at ``starts``) as a row."""
    if not starts:
        return []
    stream_ids = rows.column("stream_id").take(pa.array(starts, pa.int64())).to_pylist()
    with gc_paused():
        events = replaying.decoded(rows)
        return [{"stream_id": stream_id, **state_row(fold_events(events[start:stop], decider))}
                for stream_id, (start, stop) in zip(stream_ids, itertools.pairwise([*starts, rows.num_rows]),
                                                    strict=True)]


def _states_raw(store: EventStore, decider: Decider, prefix: str, events: str, params: list) -> pd.DataFrame:
    """Each stream's ``RecordedEvent``s folded by a raw decider's ``evolve``."""
    select = SELECT_EVENTS.removesuffix("FROM events")
    records = records_from_rows(store.rows(
        f"{select}FROM {events} AND starts_with(stream_id, ?) ORDER BY stream_id, position",
        [*params, prefix]))
    table = [{"stream_id": stream_id, **state_row(fold_events(list(events), decider))}
             for stream_id, events in itertools.groupby(records, key=operator.attrgetter("stream_id"))]
    return pd.DataFrame(table, columns=_columns(["stream_id"], decider, table))


DECODE_ROWS = 100_000
"""about how many events ``states_at(method="python")`` holds decoded at once"""


def _run_starts(column: pa.ChunkedArray) -> list[int]:
    """The rows where a run of equal values begins (0 first; none for an empty column)."""
    count = len(column)
    if not count:
        return []
    changes = pc.not_equal(column.slice(1), column.slice(0, count - 1))
    return [0, *(pc.indices_nonzero(changes).to_numpy() + 1).tolist()]
