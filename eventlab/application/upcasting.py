"""Event versioning in a store: old event shapes upgraded on read, or once and for all by ``migrate``.

Register upcasters with :func:`upcaster` (the registry lives in the core, in
``eventlab.core.upcasters``, because decoding an event consults it). When
upcasting on every read is not enough (the chain grows long, or other tools read
the table directly), :func:`migrate` copies a whole store into a new one with
every event upgraded: the "copy and transform" migration.
"""

from __future__ import annotations

import json

from eventlab.core.events import registered_class, to_json
from eventlab.core.upcasters import Upcaster, chain_for, upcast, upcaster
from eventlab.errors import UnknownEventTypeError
from eventlab.storage.bulk import ImportReport
from eventlab.storage.store import EventStore


def migrate(source: EventStore, target: EventStore, *, batch_size: int = 200_000,
            progress: bool = False) -> ImportReport:
    """Copy every event of ``source`` into the empty store ``target``, upcast to the current versions.

    Positions, versions, event ids, metadata and both timestamps are kept; each
    event's data and schema_version become the current shape; ``target`` gets a
    fresh hash chain (``target.verify()`` passes). Types without a registered
    class are copied unchanged.
    """
    if target.count():
        raise UnknownEventTypeError(f"migrate writes into an empty store; {target!r} has events")
    imported, last = 0, source.head_position
    for start in range(1, last + 1, batch_size):
        frame = source.frame(
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


__all__ = ["Upcaster", "chain_for", "migrate", "upcast", "upcaster"]
