"""Subscriptions: other parts of a system follow the log, or receive it as files.

A subscriber keeps its own position: having handled the events up to position
p, it asks next for the events after p. If it crashes between handling an event
and saving its position, it gets that event again (*at-least-once* delivery),
so a careful subscriber is idempotent, e.g. remembers the ``event_id``\\ s it saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from eventlab.application.projections import core
from eventlab.core.events import RecordedEvent
from eventlab.errors import StoreError, UsageError
from eventlab.storage.store import EventStore

Stop = threading.Event | Callable[[], bool]


def subscribe(store: EventStore, *, from_position: int = 1, types: Iterable[str] | None = None,
              batch_size: int = 1_000, follow: bool = True, poll: float = 0.1,
              stop: Stop | None = None) -> Iterator[list[RecordedEvent]]:
    """Follow the log from ``from_position``: batches of committed events in order, then new ones.

    With ``follow=False`` the iterator ends at the head of the log; otherwise it
    waits for new events, checking every ``poll`` seconds, until ``stop`` (a
    ``threading.Event`` or a function returning True) says to end, or the loop
    breaks. ``types`` keeps only events of those types.

    >>> for batch in subscribe(store, from_position=1, follow=False):   # doctest: +SKIP
    ...     send(batch)
    """
    if isinstance(from_position, bool) or not isinstance(from_position, int) or from_position < 1:
        raise UsageError(f"from_position must be an int >= 1, got {from_position!r}")
    types = _type_list(types)
    with store.cursor() as con:
        position = from_position - 1
        while not _stopped(stop):
            head = core.head_position(con)
            if position >= head:
                if not follow:
                    return
                _wait(stop, poll)
                continue
            last = min(head, position + batch_size)
            events = core.read_events(con, position + 1, last, types)
            position = last
            if events:
                yield events


class Subscription:
    """Calls ``handler(event)`` for each event from ``from_position`` on, in a background thread.

    ``position`` is the next position it will deliver. If the handler raises,
    the thread stops, ``error`` holds the exception and ``position`` is the
    event it failed on: a new ``Subscription`` from there tries it again.
    """

    def __init__(self, store: EventStore, handler: Callable[[RecordedEvent], object], *,
                 from_position: int = 1, types: Iterable[str] | None = None, poll: float = 0.05):
        self.store = store
        self.handler = handler
        self.position = from_position
        self.types = _type_list(types)
        self.poll = poll
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Subscription:
        """Start delivering (until ``stop()``, or the end of a ``with`` block)."""
        if self._thread is not None and self._thread.is_alive():
            raise StoreError("this Subscription is running already")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="eventlab-subscription", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the event being handled, and wait for the thread (at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Subscription:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        try:
            for batch in subscribe(self.store, from_position=self.position, types=self.types,
                                   poll=self.poll, stop=self._stop):
                for event in batch:
                    if self._stop.is_set():
                        return
                    self.position = event.position
                    self.handler(event)
                    self.position = event.position + 1
        except Exception as exc:  # the handler's (or the store's) error, kept for the caller to see
            self.error = exc


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: the file, how many events, and their first and last positions."""

    path: Path
    events: int
    first_position: int | None
    last_position: int | None


_EXPORT_FORMATS = {".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}


def export_events(store: EventStore, path: str | Path, *, from_position: int = 1,
                  to_position: int | None = None, types: Iterable[str] | None = None) -> ExportReport:
    """Write events as another system receives them: JSON Lines (``.jsonl``) or Parquet (``.parquet``).

    One record per event, in log order: ``position``, ``event_id``, ``stream_id``,
    ``version``, ``type``, ``schema_version``, ``occurred_at``, ``recorded_at``
    (ISO 8601 UTC text in JSON Lines), ``data`` and ``metadata`` (JSON objects in
    JSON Lines, JSON text in Parquet). Export again from ``last_position + 1``
    to send only what is new.
    """
    path = Path(path)
    kind = _EXPORT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"cannot tell the format of {str(path)!r}; name the file .jsonl "
                                f"(JSON Lines) or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "json":
        times = ("strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS occurred_at, "
                 "strftime(recorded_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS recorded_at, data, metadata")
    else:
        times = "occurred_at, recorded_at, data::VARCHAR AS data, metadata::VARCHAR AS metadata"
    types = _type_list(types)
    with store.cursor() as con:
        last = core.head_position(con) if to_position is None else to_position
        where, params = "position BETWEEN ? AND ?", [from_position, last]
        if types is not None:
            where += " AND type IN (SELECT unnest(?::VARCHAR[]))"
            params.append(types)
        count, first_found, last_found = con.execute(
            f"SELECT count(*), min(position), max(position) FROM events WHERE {where}", params).fetchall()[0]
        con.execute(f"""
            COPY (SELECT position, event_id::VARCHAR AS event_id, stream_id, version, type, schema_version,
                         {times}
                  FROM events WHERE {where} ORDER BY position)
            TO '{str(path).replace("'", "''")}' (FORMAT {kind})""", params)
    return ExportReport(path, int(count), first_found, last_found)


def _type_list(types: Iterable[str] | None) -> list[str] | None:
    if isinstance(types, str):
        raise UsageError(f"types must be a list of event types, got the string {types!r}; "
                                f"write types=[{types!r}]")
    return None if types is None else list(types)


def _stopped(stop: Stop | None) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


def _wait(stop: Stop | None, seconds: float) -> None:
    if isinstance(stop, threading.Event):
        stop.wait(seconds)
    else:
        time.sleep(seconds)
