"""Replaying stored events fast: rows straight from DuckDB into domain events, then one fold.

The readable way to get a state is ``replay(store.read(stream_id), decider)``:
a ``RecordedEvent`` per row, each decoding its own event. Time travel and
snapshots read long streams, so they take a shorter road to the same state: the
rows come as one Arrow table, every row's JSON is parsed in one go, and all
events of one type are made in one sweep (``eventlab.core.fastpaths``). Tests
check that both roads give the same states.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eventlab.core import fastpaths
from eventlab.core.decider import Decider, fold_events
from eventlab.core.events import decoder_for, registered_class
from eventlab.storage.store import SELECT_EVENTS, EventStore, records_from_rows

S = TypeVar("S")


def stream_state(store: EventStore, stream_id: str, decider: Decider[S], *, after: int = 0,
                 state: S | None = None, where: str = "true", params: list[Any] | tuple = (),
                 between: tuple[int, int | None] | None = None) -> S:
    """The state of one stream: ``state`` after version ``after`` (default: the initial state before
    any event) with the stream's later events folded in.

    ``where`` is an SQL condition on the stream's events (e.g. ``"version <= ?"``
    with ``params``) that cuts it at a point in time. ``between=(low, high)``
    reads only the stream's events at global positions ``low < position <= high``
    (``high`` None: to the end of the log) and finds them by position instead of by
    the stream's index: the log is stored in position order, so DuckDB reads only
    that stretch of it. That is what keeps a few events of a very long stream cheap
    (checkpoints use it); the index would fetch the whole stream first.
    """
    if between is None:
        found, found_params = "stream_id = ?", [stream_id]
    else:  # both bounds: with only a lower one, DuckDB skips fewer blocks of the log (2.7 ms, not 0.6)
        low, high = between
        found, found_params = "position > ? AND position <= ? AND stream_id = ?", [
            low, high if high is not None else 2**62, stream_id]
    few = few_events(store, stream_id, decider, found, found_params, after, where, params)
    if few is not None:
        return fold_events(few, decider, state)
    if decider.raw:  # evolve reads RecordedEvents: make them, as store.read does
        rows = store.rows(f"""
            WITH stream AS MATERIALIZED ({SELECT_EVENTS} WHERE {found})
            SELECT * FROM stream WHERE version > ? AND {where} ORDER BY version""",
            [*found_params, after, *params])
        return fold_events(records_from_rows(rows), decider, state)
    rows = store.arrow(f"""
        WITH stream AS MATERIALIZED (  -- the stream first, found by the index; with the point's bounds
            SELECT type, data, schema_version, version, position, recorded_at, occurred_at  -- beside
            FROM events WHERE {found}                           -- it, DuckDB would scan the whole log
        )
        SELECT type, data, schema_version FROM stream WHERE version > ? AND {where} ORDER BY version""",
        [*found_params, after, *params])
    with fastpaths.gc_paused():  # a long stream makes many objects that all live until the end
        events = decoded(rows, stream_id)
        state = fold_events(events, decider, state)
        del events  # freed before the collector wakes up, so it does not scan them on waking
    return state


FEW = 512
"""a stream (or stretch of one) of at most this many events is read as plain rows, in one short query"""


def few_events(store: EventStore, stream_id: str, decider: Decider, found: str, found_params: list,
               after: int, where: str, params: list[Any] | tuple) -> list[object] | None:
    """The events ``stream_state`` folds, in version order, if the rows ``found`` are at most ``FEW``;
    else None (read them the long way).

    One query of at most ``FEW + 1`` plain rows (no Arrow, no CTE, no ORDER BY,
    which cost more than the lookup itself for a short stream). The point's bounds
    come back as a column instead of a filter: a filter beside ``stream_id = ?``
    would make DuckDB scan the whole log instead of looking the stream up in its
    index. The rows are cut and sorted here.
    """
    columns = SELECT_EVENTS.removeprefix("SELECT ").removesuffix(" FROM events") if decider.raw \
        else "version, type, data, schema_version"
    rows = store.rows(f"SELECT {columns}, version > ? AND ({where}) AS wanted FROM events "
                      f"WHERE {found} LIMIT {FEW + 1}", [after, *params, *found_params])
    if len(rows) > FEW:
        return None
    if decider.raw:
        rows = sorted((row[:-1] for row in rows if row[-1]), key=operator.itemgetter(2))
        return records_from_rows(rows)
    rows = sorted((row for row in rows if row[-1]), key=operator.itemgetter(0))
    if not rows:
        return []
    payloads = fastpaths.loads(f"[{','.join(row[2] for row in rows)}]".encode())
    decoders: dict[tuple[str, int], Callable[[dict], object]] = {}
    events = []
    for (_, type_name, _, schema_version, _), data in zip(rows, payloads, strict=True):
        decoder = decoders.get((type_name, schema_version))
        if decoder is None:
            decoder = decoders[type_name, schema_version] = decoder_for(type_name, schema_version, stream_id)
        events.append(decoder(data))
    return events


def states_every(store: EventStore, stream_id: str, decider: Decider[S], every: int,
                 positions: np.ndarray) -> dict[int, S]:
    """The stream's state after every ``every``-th version, from one pass over it (``positions``: its
    events' global positions in version order)."""
    states: dict[int, S] = {}
    state = decider.initial_state
    length = len(positions)
    if decider.raw:  # RecordedEvents are heavy: a stretch of the stream at a time, found by position
        for start in range(0, length - length % every, every):
            between = (int(positions[start]) - 1, int(positions[start + every - 1]))
            state = stream_state(store, stream_id, decider, state=state, between=between)
            states[start + every] = state
        return states
    rows = store.arrow("""
        WITH stream AS MATERIALIZED (
            SELECT type, data, schema_version, version FROM events WHERE stream_id = ?)
        SELECT type, data, schema_version FROM stream ORDER BY version""", [stream_id])
    block = every * max(1, DECODE_BLOCK // every)  # decode many checkpoints' events at once, fold each
    with fastpaths.gc_paused():
        for first in range(0, length - length % every, block):
            events = decoded(rows.slice(first, min(block, length - length % every - first)), stream_id)
            for start in range(0, len(events), every):
                state = fold_events(events[start:start + every], decider, state)
                states[first + start + every] = state
            del events
    return states


DECODE_BLOCK = 50_000
"""about how many events ``states_every`` holds decoded at once"""


def decoded(rows: pa.Table, stream_id: str | None = None) -> list[object]:
    """Domain events straight from rows of type, data and schema_version, skipping RecordedEvent
    objects (the fast replay path).

    One parse reads every row's JSON; then all events of one type are made in one
    sweep, adopting the freshly parsed dicts. The rows are those of ``stream_id``,
    or have a ``stream_id`` column (which error messages name).
    """
    if not rows.num_rows:
        return []
    whole = pa.ListArray.from_arrays(pa.array([0, rows.num_rows], pa.int32()),
                                     rows.column("data").combine_chunks())
    joined = pc.binary_join(whole, ",").cast(pa.binary())[0].as_py()  # joined by Arrow, in C
    payloads = fastpaths.loads(b"[" + joined + b"]")
    events: list[object] = [None] * rows.num_rows
    for type_name, schema_version, where in rows_by_kind(rows):
        together = isinstance(where, range)  # one run of rows: slices instead of row by row
        some = payloads[where.start:where.stop] if together else [payloads[row] for row in where]
        cls = registered_class(type_name)
        current = cls is not None and schema_version == cls.__eventlab_schema_version__
        made = fastpaths.restore_many(cls, some) if current else None
        if made is None:  # upcast, built by __init__, or not fitting: event by event, naming its stream
            streams = rows.column("stream_id").to_pylist() if stream_id is None else None
            made = decode_each(type_name, schema_version, some,
                                [stream_id or streams[row] for row in where])
        if together:
            events[where.start:where.stop] = made
        else:
            for row, event in zip(where, made, strict=True):
                events[row] = event
    return events


def rows_by_kind(rows: pa.Table) -> Iterator[tuple[str, int, range | list[int]]]:
    """Each event type and schema version in ``rows``, with the rows that hold it (a range if adjacent)."""
    kinds = rows.select(["type", "schema_version"]).append_column("row", pa.array(np.arange(rows.num_rows)))
    groups = kinds.group_by(["type", "schema_version"], use_threads=False).aggregate(
        [("row", "min"), ("row", "max"), ("row", "count"), ("row", "list")])
    for group, (type_name, schema_version, first, last, size) in enumerate(zip(*(
            groups.column(name).to_pylist()
            for name in ("type", "schema_version", "row_min", "row_max", "row_count")), strict=True)):
        if last - first + 1 == size:
            yield type_name, schema_version, range(first, last + 1)
        else:
            yield type_name, schema_version, groups.column("row_list")[group].values.to_pylist()


def decode_each(type_name: str, schema_version: int, payloads: list[dict], stream_ids: list[str]
                 ) -> list[object]:
    """Events one at a time, with a decoder per stream so that an error names the stream."""
    decoders: dict[str, Callable[[dict], object]] = {}
    events = []
    for data, stream_id in zip(payloads, stream_ids, strict=True):
        if stream_id not in decoders:
            decoders[stream_id] = decoder_for(type_name, schema_version, stream_id)
        events.append(decoders[stream_id](data))
    return events
