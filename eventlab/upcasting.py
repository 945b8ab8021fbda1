"""Event versioning: old event shapes are upgraded as they are read, never rewritten.

Events are immutable, but the code that reads them changes. When an event type
changes shape, give its class a new ``schema_version`` (``@event_type("OrderPaid",
version=2)``) and register an *upcaster*: a pure function from the data of
version n to the data of version n + 1. Reading an old event runs the chain
(v1 -> v2 -> v3 ...) on the fly; the stored row keeps its original data, so the
hash chain and the audit trail stay intact.

When upcasting on every read is not enough (the chain grows long, or other
tools read the table directly), :func:`migrate` copies a whole store into a new
one with every event upgraded: the "copy and transform" migration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from eventlab.errors import UnknownEventTypeError

if TYPE_CHECKING:
    from eventlab.bulk import ImportReport
    from eventlab.store import EventStore

Upcaster = Callable[[dict], dict]
_upcasters: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(data) -> data`` that turns version ``from_version`` of a type into the next.

    >>> @upcaster("OrderPaid", from_version=1)
    ... def add_currency(data):
    ...     return {**data, "currency": "EUR"}
    """

    def register(fn: Upcaster) -> Upcaster:
        _upcasters[type_name, from_version] = fn
        return fn

    return register


def upcast(type_name: str, data: dict, from_version: int, to_version: int, stream_id: str = "?") -> dict:
    """Run the chain of upcasters from ``from_version`` up to ``to_version``."""
    return chain_for(type_name, from_version, to_version, stream_id)(data)


def chain_for(type_name: str, from_version: int, to_version: int, stream_id: str = "?") -> Upcaster:
    """The composed upgrade from one version to another, checked before any event is read."""
    if from_version > to_version:
        raise UnknownEventTypeError(
            f"event type {type_name!r} version {from_version} in stream {stream_id!r} is newer than "
            f"this code knows (version {to_version}); upgrade the code that defines {type_name}")
    steps = []
    for version in range(from_version, to_version):
        step = _upcasters.get((type_name, version))
        if step is None:
            raise UnknownEventTypeError(
                f"event type {type_name!r} version {version} in stream {stream_id!r} cannot be read: "
                f"no upcaster from version {version} to {version + 1} is registered "
                f"(@eventlab.upcasting.upcaster({type_name!r}, from_version={version}))")
        steps.append(step)

    def upgrade(data: dict) -> dict:
        for step in steps:
            data = step(dict(data))
        return data

    return upgrade


def migrate(source: EventStore, target: EventStore, *, batch_size: int = 200_000,
            progress: bool = False) -> ImportReport:
    """Copy every event of ``source`` into the empty store ``target``, upcast to the current versions.

    Positions, versions, event ids, metadata and both timestamps are kept; each
    event's data and schema_version become the current shape; ``target`` gets a
    fresh hash chain (``target.verify()`` passes). Types without a registered
    class are copied unchanged.
    """
    from eventlab.bulk import ImportReport
    from eventlab.events import registered_class, to_json

    if target.count():
        raise UnknownEventTypeError(f"migrate writes into an empty store; {target!r} has events")
    imported, last = 0, source.head_position
    for start in range(1, last + 1, batch_size):
        frame = source._frame(
            "SELECT stream_id, type, data::VARCHAR AS data, metadata::VARCHAR AS metadata, event_id, "
            "occurred_at, recorded_at, schema_version, version FROM events "
            "WHERE position BETWEEN ? AND ? ORDER BY position", [start, start + batch_size - 1])
        frame["event_id"] = frame["event_id"].astype(str)
        for i, row in enumerate(frame.itertuples()):
            cls = registered_class(row.type)
            current = getattr(cls, "__eventlab_schema_version__", row.schema_version)
            if cls is not None and row.schema_version != current:
                data = upcast(row.type, json.loads(row.data), row.schema_version, current, row.stream_id)
                frame.at[i, "data"] = to_json(data, f"upcast {row.type}")
                frame.at[i, "schema_version"] = current
        imported += target.import_events(frame, progress=progress).imported
    return ImportReport(imported, 0, 1 if imported else None, imported or None)
