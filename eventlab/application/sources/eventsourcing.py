"""The stored events of an application built with the ``eventsourcing`` library: its SQLite file or
its PostgreSQL database.

The library keeps each aggregate's events in one table: an originator id (the
aggregate), an originator version, a *topic* (``"shop.domain:Order.Placed"``:
where the event's class lives) and a *state* (the event's attributes, encoded by
the library's transcoder). They are read here through the library's own recorder
and transcoder, so what eventlab stores is exactly what the library would
decode: the stream is ``<aggregate>-<originator id>`` (``order-5c3e...``), the
type the class path after the colon (``Order.Placed``), the version the
originator version, the time the event's own ``timestamp``, and the data the
rest of its attributes (UUIDs, decimals and datetimes as text). The rows come in
time order. Each event's id is
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
from urllib.parse import unquote, urlsplit

import pandas as pd

from eventlab.errors import InvalidEventError, UsageError

IDS = uuid.UUID("0b5d4c86-6a0f-4f3c-a0f2-3b8c6e7d9a15")
"""The namespace of the event ids made from (originator id, originator version)."""

PAGE = 10_000
"""notifications read per query"""

OWN_ATTRIBUTES = ("originator_id", "originator_version", "timestamp")
"""The attributes every event of the library has, which become eventlab's columns, not data."""


def eventsourcing(path_or_dsn: str | Path, *, application: str | None = None) -> pd.DataFrame:
    """The events of an ``eventsourcing`` application, as eventlab's import columns.

    ``path_or_dsn`` is the application's SQLite file (its ``SQLITE_DBNAME``) or its
    PostgreSQL database as a URL, ``postgresql://user:password@host:5432/dbname``.
    In PostgreSQL each application has a table of its own, named after it
    (``bankaccounts_events``): give ``application="BankAccounts"`` when the database
    holds more than one.

    >>> store.import_events(eventlab.sources.eventsourcing("app.sqlite"))  # doctest: +SKIP
    """
    recorder, transcoder = _recorder(path_or_dsn, application)
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
    # In time order: the library numbers notifications in the order it saved them, and when several
    # aggregates are saved together their events interleave in time. Each aggregate's own events keep
    # their order (their times never go back), and the notification id stays in the metadata.
    return frame.sort_values("recorded_at", kind="stable", ignore_index=True)


def _recorder(given: str | Path, application: str | None) -> tuple[Any, Any]:
    """The library's application recorder over the store (creating nothing), and its default transcoder."""
    try:
        from eventsourcing.persistence import (
            DatetimeAsISO,
            DecimalAsStr,
            InfrastructureFactory,
            JSONTranscoder,
            UUIDAsHex,
        )
        from eventsourcing.utils import Environment
    except ImportError:
        raise UsageError("reading an eventsourcing store needs that library: pip install eventsourcing") \
            from None
    if str(given).startswith(("postgresql://", "postgres://")):
        name, env = _postgres(str(given), application)
    else:
        path = Path(given)
        if not path.is_file():
            raise InvalidEventError(f"no file at {str(path)!r}: give the SQLite file of an eventsourcing "
                                    f"application (its SQLITE_DBNAME), or a postgresql:// URL")
        name, env = "", {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    factory = InfrastructureFactory.construct(Environment(name, {**env, "CREATE_TABLE": "false"}))
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # what an Application registers
        transcoder.register(transcoding)
    return factory.application_recorder(), transcoder


def _postgres(dsn: str, application: str | None) -> tuple[str, dict[str, str]]:
    """The application's name (which names its table) and the library's settings for a database URL."""
    url = urlsplit(dsn)
    if not url.hostname or not url.path.strip("/"):
        raise UsageError(f"{dsn!r} names no host or database; write postgresql://user:password@host:5432/dbname")
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_HOST": url.hostname,
           "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_DBNAME": unquote(url.path.strip("/")),
           "POSTGRES_USER": unquote(url.username or ""), "POSTGRES_PASSWORD": unquote(url.password or "")}
    return application or _the_application(dsn), env


def _the_application(dsn: str) -> str:
    """The one application whose events the database holds (its table is ``<name>_events``)."""
    import psycopg  # the driver the library's PostgreSQL module uses

    with psycopg.connect(dsn) as con:
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name LIKE '%\\_events' ORDER BY 1").fetchall()]
    if len(tables) != 1:
        raise UsageError(f"the database holds {len(tables)} tables of events ({tables}); say whose: "
                         f"eventsourcing(dsn, application=<the application class name>)")
    return tables[0].removesuffix("_events")


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
