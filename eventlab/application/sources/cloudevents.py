"""CloudEvents (the CNCF spec, v1.0) in structured JSON mode: a file of events from an event bus.

An event bus says what happened (``type``), where (``source``), about what
(``subject``), when (``time``) and carries ``data``. The stream of an event is
its ``subject`` (the entity it is about), or its ``source`` when it has none.
Everything else the envelope says (``specversion``, ``source``, content type,
extension attributes such as a tenant or a trace id) is kept in the event's
metadata, so nothing is lost. A CloudEvents ``id`` is unique only per source and
need not be a UUID: such ids become a stable UUID (the same one on every load, so
a file loaded twice adds nothing) and the original stays in the metadata.

Two layouts are read: JSON Lines (one event per line) and a JSON batch (an array
of events, ``application/cloudevents-batch+json``).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from eventlab.core.moments import has_utc_offset
from eventlab.errors import InvalidEventError, shown

IDS = uuid.UUID("2f7f5e3a-97a4-4d56-8a7b-b0c3f8a5d6e1")
"""The namespace of the UUIDs made from (source, id) pairs that are not UUIDs themselves."""

ENVELOPE = ("id", "type", "time", "data", "data_base64", "subject")
"""Attributes that become columns or the data; every other one goes to the metadata."""


def cloudevents(path: str | Path) -> pd.DataFrame:
    """The events of a CloudEvents JSON file (JSON Lines or a batch) as eventlab's import columns.

    >>> store.import_events(eventlab.sources.cloudevents("bus.jsonl"), sort=True)  # doctest: +SKIP
    """
    rows = [_row(event, where) for event, where in _events(Path(path))]
    columns = ["stream_id", "type", "data", "metadata", "event_id", "recorded_at"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], format="ISO8601", utc=True)
    return frame


def _events(path: Path) -> list[tuple[dict, str]]:
    """Each event object with where it is in the file (for messages): a batch's index or a line."""
    if not path.is_file():
        raise InvalidEventError(f"no file at {str(path)!r} to read CloudEvents from")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # a batch: one JSON array
        try:
            batch = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidEventError(f"{path.name} is not a JSON batch of CloudEvents: {exc}") from None
        return [(event, f"{path.name}, event {i + 1} of the batch") for i, event in enumerate(batch)]
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append((json.loads(line), f"{path.name}, line {number}"))
        except json.JSONDecodeError as exc:
            raise InvalidEventError(f"{path.name}, line {number} is not a CloudEvent in JSON: {exc}; "
                                    f"give one event per line (JSON Lines) or a JSON array") from None
    return events


def _row(event: Any, where: str) -> dict[str, Any]:
    """One structured-mode CloudEvent as an import row; a missing required attribute is refused."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"{where} is {shown(event, 60)}, not a CloudEvent object")
    missing = [name for name in ("specversion", "id", "source", "type", "time") if not event.get(name)]
    if missing:
        raise InvalidEventError(
            f"{where} has no {', '.join(missing)}; a CloudEvent needs specversion, id, source and type, and "
            f"eventlab needs its time too (when it was recorded), e.g. \"time\": \"2024-05-06T09:00:00Z\"")
    if not has_utc_offset(str(event["time"])):
        raise InvalidEventError(f"{where}: time {event['time']!r} has no UTC offset; CloudEvents times are "
                                f"RFC 3339, e.g. 2024-05-06T09:00:00Z or 2024-05-06T11:00:00+02:00")
    metadata = {name: value for name, value in event.items() if name not in ENVELOPE}
    event_id = _event_id(event["source"], str(event["id"]), metadata)
    return {"stream_id": str(event.get("subject") or event["source"]), "type": str(event["type"]),
            "data": _data(event), "metadata": metadata, "event_id": event_id, "recorded_at": event["time"]}


def _data(event: dict) -> dict[str, Any]:
    """The payload as an object: JSON objects as they are, anything else under one key."""
    if "data_base64" in event:  # binary data stays as the base64 text it came as, checked
        try:
            base64.b64decode(event["data_base64"], validate=True)
        except (ValueError, TypeError):
            raise InvalidEventError(f"event {event['id']!r} has data_base64 that is not base64") from None
        return {"data_base64": event["data_base64"]}
    data = event.get("data")
    if data is None:
        return {}
    return data if isinstance(data, dict) else {"value": data}


def _event_id(source: str, given: str, metadata: dict[str, Any]) -> str:
    """The id itself if it is a UUID; else a UUID made from (source, id), the original kept in metadata."""
    try:
        return str(uuid.UUID(given))
    except ValueError:
        metadata["cloudevents_id"] = given
        return str(uuid.uuid5(IDS, f"{source}\x1f{given}"))
