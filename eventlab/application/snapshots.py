"""Snapshots: a cache of replayed state, so long streams need not be replayed from the start.

Replaying 100,000 events costs a fraction of a second; doing it for every
command or every frame of a slider adds up. A snapshot stores a stream's state
at one version, in the same DuckDB file (table ``snapshots``), and later replays
start from the newest usable snapshot and apply only the events after it.

A snapshot is only a cache: it is tagged with the decider's ``name`` and
``state_version`` and ignored when either differs, so changing the shape of a
state (and bumping ``state_version``) can never load an old shape. Deleting
every snapshot changes nothing but speed; the tests check exactly that.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import operator
import typing
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from eventlab.application.replaying import states_every, stream_state
from eventlab.core import fastpaths
from eventlab.core.events import payload_of, to_json
from eventlab.errors import StoreError, UsageError

if TYPE_CHECKING:
    from eventlab.core.decider import Decider
    from eventlab.storage.store import EventStore

SNAPSHOTS_DDL = """
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id     VARCHAR     NOT NULL,
    decider       VARCHAR     NOT NULL,  -- the decider's name
    state_version INTEGER     NOT NULL,  -- the decider's state_version: the shape of state
    version       BIGINT      NOT NULL,  -- the stream version the state is after
    position      BIGINT      NOT NULL,  -- the global position of that event
    recorded_at   TIMESTAMPTZ NOT NULL,  -- and when it was recorded
    state         JSON        NOT NULL USING COMPRESSION uncompressed,
    PRIMARY KEY (stream_id, decider, state_version, version)
)"""
"""``state`` is stored uncompressed: DuckDB's compression of a long text (zstd) makes reading back a
100,000-item state about four times slower. Tables made before keep their compression and read the same."""


@dataclass(frozen=True)
class Snapshot:
    """The state of one stream after ``version`` (global ``position``), as a decider sees it."""

    stream_id: str
    version: int
    position: int
    recorded_at: datetime
    state: Any


def take(store: EventStore, stream_id: str, decider: Decider, *, version: int | None = None) -> Snapshot:
    """Replay a stream (up to ``version``, default its end) and store the state as a snapshot.

    The replay starts from the newest snapshot below that version, if any.
    """
    _check_named(decider)
    if store.in_unit_of_work:
        raise StoreError("take a snapshot after the unit of work commits: it must describe stored events")
    last = store.rows(
        "SELECT version, position, recorded_at FROM events WHERE stream_id = ? AND version <= ? "
        "ORDER BY version DESC LIMIT 1", [stream_id, version if version is not None else 2**62])
    if not last:
        raise UsageError(f"stream {stream_id!r} has no events to snapshot (up to version {version})")
    at_version, position, recorded_at = last[0]
    start = latest(store, stream_id, decider, version=at_version)
    state = stream_state(store, stream_id, decider, after=start.version if start else 0,
                         state=start.state if start else None, where="version <= ?", params=[at_version])
    with store.connection() as con:
        con.execute(SNAPSHOTS_DDL)
        con.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
            [stream_id, decider.name, decider.state_version, at_version, position, recorded_at,
             state_text(state)])
    _has_table_by_store[store] = True
    _add_mark(store, stream_id, decider, (at_version, position, recorded_at))
    return Snapshot(stream_id, at_version, position, recorded_at, state)


def latest(store: EventStore, stream_id: str, decider: Decider, *, version: int | None = None,
           position: int | None = None, as_of: datetime | None = None) -> Snapshot | None:
    """The newest snapshot of a stream taken at or before the point asked for, if any.

    Where the snapshots are comes from the store's list of them (``marks``), so a
    stream without any costs no query, and one with some costs one: the state, by key.
    """
    for attempt in (1, 2):
        stream_marks = marks(store, decider, fresh=attempt == 2).get(stream_id)
        if not stream_marks:
            return None
        bounds = [bisect.bisect_right(stream_marks, bound, key=operator.itemgetter(at))
                  for at, bound in enumerate((version, position, as_of)) if bound is not None]
        usable = min(bounds, default=len(stream_marks))  # the three grow together along a stream
        if not usable:
            return None
        version_, position_, recorded_at = stream_marks[usable - 1]
        rows = store.rows("SELECT state FROM snapshots WHERE stream_id = ? AND decider = ? "
                          "AND state_version = ? AND version = ?",
                          [stream_id, decider.name, decider.state_version, version_])
        if rows:
            text = rows[0][0]
            data = fastpaths.loads(text.encode(), checked=text.endswith(CHECKED))
            restored = state_from_dict(type(decider.initial_state), data)
            return Snapshot(stream_id, version_, position_, recorded_at, restored)
    return None  # deleted behind the store's back twice over: replay from the start


def versions(store: EventStore, stream_id: str, decider: Decider) -> list[int]:
    """The versions of a stream that have a snapshot ``decider`` can use, in order."""
    return [version for version, _, _ in marks(store, decider).get(stream_id, ())]


def next_position(store: EventStore, stream_id: str, decider: Decider, version: int) -> int | None:
    """The global position of the oldest snapshot of a stream after ``version`` (None if there is none)."""
    stream_marks = marks(store, decider).get(stream_id, [])
    after = bisect.bisect_right(stream_marks, version, key=operator.itemgetter(0))
    return stream_marks[after][1] if after < len(stream_marks) else None


def marks(store: EventStore, decider: Decider, *, fresh: bool = False
          ) -> dict[str, list[tuple[int, int, datetime]]]:
    """Where ``decider``'s snapshots are: stream id -> (version, position, recorded_at) of each, in order.

    Read once per store (one query, without the states) and kept until this module
    takes or deletes a snapshot, or the store's ``generation`` moves on; ``fresh``
    reads it again. Snapshots are a cache, so a list out of date (snapshots written
    with SQL, or through another store object on the same file) costs speed, never
    a wrong state: ``latest`` reads the state it picks, and looks again if it is gone.
    """
    if not decider.name:
        return {}
    kept = _marks_by_store.setdefault(store, {})
    key = (decider.name, decider.state_version)
    if fresh or key not in kept or kept[key][0] != store.generation:
        found: dict[str, list[tuple[int, int, datetime]]] = {}
        if _has_table(store):
            for stream_id, version, position, recorded_at in store.rows(
                    "SELECT stream_id, version, position, recorded_at FROM snapshots "
                    "WHERE decider = ? AND state_version = ? ORDER BY stream_id, version", list(key)):
                found.setdefault(stream_id, []).append((version, position, recorded_at))
        kept[key] = (store.generation, found)
    return kept[key][1]


_marks_by_store: weakref.WeakKeyDictionary[EventStore, dict[tuple[str, int], tuple[int, dict]]] = \
    weakref.WeakKeyDictionary()


def _add_mark(store: EventStore, stream_id: str, decider: Decider, mark: tuple[int, int, datetime]) -> None:
    """One snapshot was written: put it in the list ``marks`` keeps, if one is kept."""
    kept = _marks_by_store.get(store, {}).get((decider.name, decider.state_version))
    if kept is not None:
        stream_marks = kept[1].setdefault(stream_id, [])
        at = bisect.bisect_left(stream_marks, mark[0], key=operator.itemgetter(0))
        stream_marks[at:at + (at < len(stream_marks) and stream_marks[at][0] == mark[0])] = [mark]


def _forget_marks(store: EventStore) -> None:
    """Snapshots were written or deleted: ``marks`` reads them again when next asked."""
    _marks_by_store.pop(store, None)


def take_every(store: EventStore, decider: Decider, n: int) -> int:
    """A snapshot at every ``n``-th version of each of ``decider``'s streams; returns how many were stored.

    Each stream is replayed once (not once per snapshot), so this checkpoints a
    whole log at about the cost of replaying it. Afterwards the state of any of
    its streams at any version (``state_at``, the sliders) is a snapshot plus at
    most ``n - 1`` events.
    """
    _check_named(decider)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"a snapshot every n versions needs an int n >= 1, got {n!r}")
    store.check_writable("store snapshots")
    if store.in_unit_of_work:
        raise StoreError("take snapshots after the unit of work commits: they must describe stored events")
    prefix = f"{decider.category}-" if decider.category else ""
    names = ("stream_id", "version", "position", "recorded_at", "state")
    columns: dict[str, list] = {name: [] for name in names}
    for (stream_id,) in store.rows("SELECT stream_id FROM events WHERE starts_with(stream_id, ?) "
                                   "GROUP BY stream_id HAVING count(*) >= ? ORDER BY stream_id", [prefix, n]):
        marks = store.arrow("SELECT position, recorded_at FROM events WHERE stream_id = ? ORDER BY version",
                            [stream_id])
        positions = marks.column("position").to_numpy()
        for version, state in states_every(store, stream_id, decider, n, positions).items():
            columns["stream_id"].append(stream_id)
            columns["version"].append(version)
            columns["position"].append(int(positions[version - 1]))
            columns["recorded_at"].append(marks.column("recorded_at")[version - 1].as_py())
            columns["state"].append(state_text(state))
    taken = pa.table(columns)
    if not taken.num_rows:
        return 0
    with store.connection() as con:
        con.execute(SNAPSHOTS_DDL)
        con.register("eventlab_new_snapshots", taken)
        try:
            con.execute("INSERT OR REPLACE INTO snapshots SELECT stream_id, ?, ?, version, position, "
                        "recorded_at, state::JSON FROM eventlab_new_snapshots",
                        [decider.name, decider.state_version])
        finally:
            con.unregister("eventlab_new_snapshots")
    _has_table_by_store[store] = True
    _forget_marks(store)
    return taken.num_rows


def every(store: EventStore, decider: Decider, n: int) -> None:
    """Policy: ``handle`` takes a snapshot whenever a stream's version crosses a multiple of ``n``.

    (Inside a unit of work, snapshots wait: they are taken by later commands.)
    """
    _check_named(decider)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"snapshot every n events needs an int n >= 1, got {n!r}")
    store.snapshot_policies[decider.name] = n


def after_append(store: EventStore, stream_id: str, decider: Decider, before: int, after: int) -> None:
    """Apply the store's snapshot policy for ``decider`` after a stream went from ``before`` to ``after``."""
    n = store.snapshot_policies.get(decider.name)
    if n and not store.in_unit_of_work and after // n > before // n:
        take(store, stream_id, decider, version=after - after % n)


def delete_all(store: EventStore, decider: Decider | None = None) -> int:
    """Delete the snapshots (of one decider, or all); returns how many. Results stay the same."""
    if not _has_table(store):
        return 0
    where, params = ("WHERE decider = ?", [decider.name]) if decider is not None else ("", [])
    with store.connection() as con:
        count = con.execute(f"SELECT count(*) FROM snapshots {where}", params).fetchall()[0][0]
        con.execute(f"DELETE FROM snapshots {where}", params)
    _forget_marks(store)
    return int(count)


CHECKED = "\n"
"""Ends a snapshot's state text that was found, as it was written, to hold no run of digits that
orjson reads differently from ``json``; reading it back then skips that search (about a tenth of
reading a 100,000-item state). JSON ignores the newline: SQL sees the same value. Text without it
(a snapshot written before, or holding such a run) is searched as it is read."""


def state_text(state: Any) -> str:
    """A state as the JSON text a snapshot stores, ending in ``CHECKED`` where that holds."""
    text = to_json(state_to_dict(state), "snapshot state")
    return text + CHECKED if fastpaths.orjson_reads_exactly(text.encode()) else text


def state_to_dict(state: Any) -> Any:
    """A state as JSON-able data (dataclasses become dicts, enums their values, datetimes ISO text).

    A datetime in a dict state (``latest_values``' ``first_at``, say) is kept as
    ``{"$datetime": "2024-05-06T09:00:00+00:00"}``, so that it comes back a datetime.
    """
    if dataclasses.is_dataclass(state):
        return {name: value.isoformat() if isinstance(value, datetime) else value
                for name, value in payload_of(state).items()}
    if isinstance(state, dict):
        return {name: {_DATETIME: value.isoformat()} if isinstance(value, datetime) else value
                for name, value in state.items()}
    return state


_DATETIME = "$datetime"


def state_from_dict(cls: type, data: Any) -> Any:
    """Rebuild a state of type ``cls`` from ``state_to_dict`` output (enums, datetimes, dataclasses)."""
    if isinstance(data, dict) and not dataclasses.is_dataclass(cls):
        return {name: datetime.fromisoformat(value[_DATETIME])
                if isinstance(value, dict) and value.keys() == {_DATETIME} else value
                for name, value in data.items()}
    if not dataclasses.is_dataclass(cls) or not isinstance(data, dict):
        return data
    values = {}
    for name, hint in _field_classes(cls):
        value = data[name]
        if hint is not None and value is not None:
            value = (state_from_dict(hint, value) if dataclasses.is_dataclass(hint)
                     else datetime.fromisoformat(value) if hint is datetime else hint(value))
        values[name] = value
    return cls(**values)


@functools.cache
def _field_classes(cls: type) -> tuple[tuple[str, type | None], ...]:
    """Each field of a state dataclass, with the class to rebuild it as (an enum or a dataclass), if any."""
    hints = typing.get_type_hints(cls)
    fields = []
    for field in dataclasses.fields(cls):
        hint = hints.get(field.name)
        plain_class = typing.get_origin(hint) is None and isinstance(hint, type)
        rebuilt = plain_class and (issubclass(hint, (enum.Enum, datetime)) or dataclasses.is_dataclass(hint))
        fields.append((field.name, hint if rebuilt else None))
    return tuple(fields)


def _check_named(decider: Decider) -> None:
    if not decider.name:
        raise UsageError("snapshots are stored under the decider's name; give it one: "
                                "Decider(..., name='orders')")


_has_table_by_store: weakref.WeakKeyDictionary[EventStore, bool] = weakref.WeakKeyDictionary()


def _has_table(store: EventStore) -> bool:
    """Whether the store has a snapshots table (asked once per store object; ``take`` makes one)."""
    if store not in _has_table_by_store:
        _has_table_by_store[store] = bool(store.rows(
            "SELECT 1 FROM duckdb_tables() WHERE table_name = 'snapshots' "
            "AND database_name = current_database()"))
    return _has_table_by_store[store]
