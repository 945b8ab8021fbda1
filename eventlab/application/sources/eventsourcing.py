"""The stored events of an application built with the ``eventsourcing`` library (its SQLite file).

The library keeps each aggregate's events in one table: an originator id (the
aggregate), an originator version, a *topic* (``"shop.domain:Order.Placed"``:
where the event's class lives) and a *state* (the event's attributes, encoded by
the library's transcoder). They are read here through the library's own recorder
and transcoder, so what eventlab stores is exactly what the library would
decode: the stream is ``<aggregate>-<originator id>`` (``order-5c3e...``), the
type the class path after the colon (``Order.Placed``), the version the
originator version, the time the event's own ``timestamp``, and the data the
rest of its attributes (UUIDs, decimals and datetimes as text). Each event's id is
made from its originator id and version, so loading the same store twice adds
nothing. The event's topic and notification id go into its metadata.

The library is not a dependency of eventlab: ``pip install eventsourcing`` to read
its stores.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from eventlab.errors import InvalidEventError, UsageError

IDS = uuid.UUID("0b5d4c86-6a0f-4f3c-a0f2-3b8c6e7d9a15")
"""The namespace of the event ids made from (originator id, originator version)."""

PAGE = 10_000
"""notifications read per query"""

OWN_ATTRIBUTES = ("originator_id", "originator_version", "timestamp")
"""The attributes every event of the library has, which become eventlab's columns, not data."""


def eventsourcing(path: str | Path) -> pd.DataFrame:
    """The events of an ``eventsourcing`` application's SQLite file, as eventlab's import columns.

    >>> store.import_events(eventlab.sources.eventsourcing("app.sqlite"))  # doctest: +SKIP
    """
    recorder, transcoder = _recorder(path)
    rows, start = [], 1
    while True:
        page = recorder.select_notifications(start, PAGE)
        rows += [_row(notification, transcoder) for notification in page]
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    columns = ["stream_id", "version", "type", "data", "metadata", "event_id", "recorded_at"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
    return frame


def _recorder(given: str | Path) -> tuple[Any, Any]:
    """The library's application recorder over the file (creating nothing), and its default transcoder."""
    if "://" in str(given):
        raise UsageError(f"{str(given)!r} looks like a database URL; this reader takes an eventsourcing "
                         f"SQLite file (PostgreSQL stores are not read yet)")
    path = Path(given)
    if not path.is_file():
        raise InvalidEventError(f"no file at {str(path)!r}: give the SQLite file of an eventsourcing "
                                f"application (its SQLITE_DBNAME)")
    try:
        from eventsourcing.persistence import (
            DatetimeAsISO,
            DecimalAsStr,
            InfrastructureFactory,
            JSONTranscoder,
            UUIDAsHex,
        )
    except ImportError:
        raise UsageError("reading an eventsourcing store needs that library: pip install eventsourcing") \
            from None
    factory = InfrastructureFactory.construct({
        "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "CREATE_TABLE": "false"})
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # what an Application registers
        transcoder.register(transcoding)
    return factory.application_recorder(), transcoder


def _row(notification: Any, transcoder: Any) -> dict[str, Any]:
    """One stored event as an import row."""
    state = transcoder.decode(notification.state)
    path = notification.topic.partition(":")[2] or notification.topic  # "Order.Placed"
    aggregate = path.split(".")[0].lower()
    timestamp = state.get("timestamp")
    if not isinstance(timestamp, dt.datetime):
        raise InvalidEventError(f"notification {notification.id} ({notification.topic}) has no timestamp; "
                                f"eventlab needs the time each event was recorded")
    version = notification.originator_version
    return {
        "stream_id": f"{aggregate}-{notification.originator_id}", "version": version, "type": path,
        "data": {name: _plain(value) for name, value in state.items() if name not in OWN_ATTRIBUTES},
        "metadata": {"topic": notification.topic, "notification_id": notification.id},
        "event_id": str(uuid.uuid5(IDS, f"{notification.originator_id}\x1f{version}")),
        "recorded_at": timestamp}


def _plain(value: Any) -> Any:
    """A decoded attribute as JSON-able data: UUIDs, decimals and datetimes as their text."""
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
