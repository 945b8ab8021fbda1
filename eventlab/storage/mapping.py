"""Foreign event logs, made importable: their columns mapped onto eventlab's, their times made exact.

An event log written by another system names its columns its own way: a
process-mining export says ``case:concept:name``, ``concept:name`` and
``time:timestamp`` (the XES standard's names) where eventlab says ``stream_id``,
``type`` and ``recorded_at``. :func:`to_events` maps such a table onto the
columns ``EventStore.import_events`` takes; every column it does not map
becomes a field of the event's ``data``, so nothing of the file is lost.

Two things are never guessed. Rows must be in time order (an event log is a
sequence), so rows that go back in time are refused unless ``sort=True`` asks
for them to be ordered by time, ties keeping the file's order. And a time with
no UTC offset means a different moment in every time zone, so naive times are
refused unless ``timezone`` says where they were written.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd

from eventlab.core.moments import UTC_OFFSET
from eventlab.errors import InvalidEventError, StoreError, shown

EVENT_COLUMNS = ("stream_id", "type", "recorded_at", "occurred_at", "event_id")
"""The eventlab columns a foreign column can be mapped onto."""

XES_COLUMNS = {"stream_id": "case:concept:name", "type": "concept:name", "recorded_at": "time:timestamp"}
"""The XES (IEEE 1849) attribute names that are recognised with no mapping at all."""

XES_PREFIX = "case-"
"""The stream prefix of a log read by its XES names, unless one is given: case 17 is stream case-17."""

NATIVE = ("stream_id", "type", "data", "recorded_at")
"""Columns that say a table is already in eventlab's own shape."""


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV, Parquet or JSON Lines file as a DataFrame, its columns as the file has them."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no file at {str(path)!r} to import")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype={"stream_id": str, "data": str, "metadata": str, "event_id": str})
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=True, dtype=False)
    except ValueError as exc:
        raise InvalidEventError(f"cannot read {str(path)!r}: {str(exc).splitlines()[0]}") from None
    raise InvalidEventError(f"cannot read {str(path)!r}: give a .parquet, .csv or .jsonl (JSON Lines) file")


def needs_mapping(frame: pd.DataFrame, columns: dict[str, str] | None) -> bool:
    """Whether ``frame`` is a foreign log: a mapping is given, or it has the XES names, not eventlab's."""
    names = set(frame.columns)
    return columns is not None or (not set(NATIVE) <= names and set(XES_COLUMNS.values()) <= names)


def to_events(frame: pd.DataFrame, columns: dict[str, str] | None = None, *, stream_prefix: str = "",
              sort: bool = False, timezone: str | None = None) -> pd.DataFrame:
    """``frame`` with eventlab's columns: mapped if it is a foreign log, times aware and in order.

    ``columns`` maps eventlab's names onto the frame's, e.g. ``{"stream_id": "case",
    "type": "activity", "recorded_at": "ts"}``; without it, a table in eventlab's own
    shape is taken as it is, and one with the XES names is mapped by them (its streams
    named ``case-<case id>`` unless ``stream_prefix`` says otherwise). Columns not
    mapped become the event's ``data`` (a missing value is JSON null).
    """
    frame = frame.reset_index(drop=True)
    foreign = needs_mapping(frame, columns)
    named = {}  # eventlab's name -> the file's, for messages
    if foreign:
        if columns is None and not stream_prefix:  # XES case ids are often bare numbers: name the streams
            stream_prefix = XES_PREFIX
        named = _mapping(frame, columns)
        frame = _mapped(frame, named)
    if stream_prefix:
        frame = frame.assign(stream_id=stream_prefix + frame["stream_id"].astype(str))
    if "recorded_at" in frame and frame["recorded_at"].isna().any():
        row = int(frame["recorded_at"].isna().to_numpy().nonzero()[0][0])
        column = named.get("recorded_at", "recorded_at")
        raise InvalidEventError(f"row {row + 1}: column {column!r} is empty; every event needs the time it "
                                f"was recorded")
    for column in ("recorded_at", "occurred_at"):
        if column in frame:
            frame[column] = _aware(frame[column], named.get(column, column), timezone)
    if foreign and "event_id" not in frame:
        frame["event_id"] = _stable_ids(frame)
    return _in_time_order(frame, sort, named.get("recorded_at", "recorded_at"))


ROW_IDS = uuid.UUID("6f1c3c1e-5a0b-4c53-9a8e-3d0c1b7a2e41")
"""The namespace of the ids given to foreign events that came without one (uuid5 of their content)."""


def _stable_ids(frame: pd.DataFrame) -> list[str]:
    """An id per row from what it says (stream, type, time, data) and how many such rows came before it,
    so that importing the same file again adds nothing (the store skips ids it holds)."""
    content = (frame["stream_id"] + "\x1f" + frame["type"] + "\x1f"
               + frame["recorded_at"].map(datetime.isoformat) + "\x1f" + frame["data"])
    repeat = content.groupby(content).cumcount().astype(str)
    return [str(uuid.uuid5(ROW_IDS, text)) for text in content + "\x1f" + repeat]


def _mapping(frame: pd.DataFrame, columns: dict[str, str] | None) -> dict[str, str]:
    """eventlab name -> the frame's column, checked: the three it needs are named, and each column exists."""
    if columns is None:  # a log with the XES names (needs_mapping)
        return dict(XES_COLUMNS)
    unknown = [name for name in columns if name not in EVENT_COLUMNS]
    if unknown:
        raise InvalidEventError(f"columns maps {unknown}, which are not eventlab columns; map any of "
                                f"{', '.join(EVENT_COLUMNS)} (the other columns become the event's data)")
    missing = [name for name in ("stream_id", "type", "recorded_at") if name not in columns]
    absent = {name: column for name, column in columns.items() if column not in frame.columns}
    if missing or absent:
        raise InvalidEventError(
            (f"columns must say which column is {', '.join(missing)}; " if missing else "")
            + (f"the file has no column {', '.join(map(repr, absent.values()))} "
               f"(it has {list(frame.columns)[:12]})" if absent else "").rstrip("; "))
    return dict(columns)


def _mapped(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The mapped columns under eventlab's names, the rest as one JSON object per row in ``data``."""
    rest = [column for column in frame.columns if column not in mapping.values()]
    events = pd.DataFrame({name: frame[column] for name, column in mapping.items()})
    for name in ("stream_id", "type"):
        events[name] = _names(frame[mapping[name]], mapping[name])
    if rest:  # pandas writes every row's object at C speed; dates as ISO 8601, missing values as null
        lines = frame[rest].to_json(orient="records", lines=True, date_format="iso", date_unit="us")
        events["data"] = lines.rstrip("\n").split("\n") if len(frame) else []  # "\n" only between rows
    else:
        events["data"] = "{}"
    return events


def _names(values: pd.Series, column: str) -> pd.Series:
    """Stream ids and types as text; a missing one is refused, naming its row."""
    missing = values.isna()
    if missing.any():
        row = int(missing.to_numpy().nonzero()[0][0])
        raise InvalidEventError(f"row {row + 1}: column {column!r} is empty; every event needs a stream "
                                f"and a type")
    return values.astype(str)


def _aware(values: pd.Series, column: str, timezone: str | None) -> pd.Series:
    """A column of times as aware UTC timestamps; naive ones only with ``timezone``, rows named."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values):
        return _localized(values, column, timezone, values.dropna().astype(str))
    given = values.dropna().astype(str)
    with_offset = given.str.contains(UTC_OFFSET, regex=True)
    if with_offset.any() and not with_offset.all():
        row = int(with_offset.index[~with_offset.to_numpy()][0])
        raise InvalidEventError(f"row {row + 1}: column {column!r} is {given[row]!r}, with no UTC offset, "
                                f"while other rows have one; write every time with its offset (e.g. +01:00)")
    try:
        times = pd.to_datetime(values, format="ISO8601", utc=bool(with_offset.any()))
    except (ValueError, TypeError) as exc:
        raise InvalidEventError(f"column {column!r} holds something that is not a time "
                                f"({str(exc).splitlines()[0]}); write times in ISO 8601") from None
    return times if with_offset.any() else _localized(times, column, timezone, given)


def _localized(values: pd.Series, column: str, timezone: str | None, given: pd.Series) -> pd.Series:
    if timezone is None:
        row = int(given.index[0]) if len(given) else 0
        raise InvalidEventError(
            f"row {row + 1}: column {column!r} is {shown(given.iloc[0] if len(given) else None)}, which has "
            f"no UTC offset, so it means a different moment in each time zone; say where the times were "
            f"written: timezone='Europe/Paris' (eventlab load ... --timezone Europe/Paris), or 'UTC'")
    try:
        return values.dt.tz_localize(timezone, ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    except Exception as exc:  # an unknown zone name, or a time that the clock change skipped or repeated
        raise InvalidEventError(f"column {column!r} cannot be read in time zone {timezone!r}: "
                                f"{str(exc).splitlines()[0]}") from None


def _in_time_order(frame: pd.DataFrame, sort: bool, column: str) -> pd.DataFrame:
    """Rows ordered by ``recorded_at`` (stable: ties keep the file's order), or refused if out of order."""
    if "recorded_at" not in frame:  # the import's own check says what is missing
        return frame
    times = frame["recorded_at"]
    if times.is_monotonic_increasing:
        return frame
    if sort:
        return frame.sort_values("recorded_at", kind="stable").reset_index(drop=True)
    back = int((times.diff() < pd.Timedelta(0)).to_numpy().nonzero()[0][0])
    raise InvalidEventError(
        f"row {back + 1} ({column} {times[back]}) is earlier than row {back} ({times[back - 1]}): "
        f"an event log is imported in time order; pass sort=True (eventlab load ... --sort) to order "
        f"the rows by time, ties keeping the file's order")
