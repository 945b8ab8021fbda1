"""XES (IEEE 1849), the process-mining standard: a log of traces (cases), each a sequence of events.

An XES file is XML. A ``<trace>`` is one case (an order, a patient visit); its
``<event>`` elements are what happened to it, in order. Both carry typed
attributes, each an element named after its type with a ``key`` and a ``value``::

    <trace>
      <string key="concept:name" value="order-17"/>          <!-- the case id -->
      <event>
        <string key="concept:name" value="Pay"/>             <!-- the activity -->
        <date key="time:timestamp" value="2024-05-06T11:00:00.000+02:00"/>
        <string key="org:resource" value="Ann"/>
      </event>
    </trace>

:func:`xes` gives the table pm4py's ``convert_to_dataframe`` gives: one row per
event, in the file's order (trace by trace), a column per event attribute key and
a ``case:<key>`` column per trace attribute. Those are the XES names
``EventStore.import_events`` maps on its own (``eventlab.storage.mapping``): the
case becomes stream ``case-<case id>``, the activity the event's type, the
timestamp its ``recorded_at``, every other column its data.

The file is read as a stream (``xml.etree.ElementTree.iterparse``): each event is
turned into a row when its closing tag is read and then cleared, and each trace
is dropped from the tree once its rows are made, so only one trace is held as XML
at a time, however big the log (a ``.xes.gz`` is read the same way, decompressed
as it goes). The rows themselves are of course all in the returned DataFrame.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

from eventlab.errors import InvalidEventError, shown

SIMPLE = ("string", "date", "int", "float", "boolean", "id")
"""The XES attribute types that hold one value (``value="..."``)."""

NESTED = ("list", "container")
"""The XES attribute types that hold other attributes: a list (ordered) and a container (by key)."""

REQUIRED = {"concept:name": "its activity (the event's type)", "time:timestamp": "when it happened"}
"""What every event needs to be imported, and why."""

DATE_EXAMPLE = "2024-05-06T11:00:00.000+02:00"


def xes(path: str | Path) -> pd.DataFrame:
    """The events of an XES file (``.xes``, or gzip-compressed ``.xes.gz``), one row per event.

    Columns are named as pm4py names them: ``case:concept:name`` (the trace's id),
    ``concept:name`` (the activity), ``time:timestamp``, and any other event attribute
    by its key (``lifecycle:transition``, ``org:resource``...) or trace attribute as
    ``case:<key>``. Values are typed by their XES element: ``string`` and ``id`` as
    text, ``int``, ``float``, ``boolean`` as Python numbers and booleans, ``date`` as
    timestamps (in UTC when the file gives offsets, as XES dates do; left naive when it
    does not, so that an import asks where they were written: ``timezone=``).
    ``<extension>``, ``<global>``, ``<classifier>`` and the log's own attributes are
    not events and are skipped.

    >>> store.import_events(eventlab.sources.xes("process.xes"), sort=True)  # doctest: +SKIP
    """
    path = Path(path)
    dates: set[str] = set()  # the columns that hold <date> values
    rows = list(_rows(path, dates))
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*REQUIRED, "case:concept:name"])
    for column in dates:
        frame[column] = _times(frame[column])
    return frame


def _rows(path: Path, dates: set[str]) -> Iterator[dict[str, Any]]:
    """Each event of the file as a row; a file that is not well-formed XML (or gzip) is refused."""
    with _open(path) as file:
        try:
            yield from _events(ET.iterparse(file, events=("start", "end")), path.name, dates)
        except ET.ParseError as exc:
            raise InvalidEventError(
                f"{path.name} is not well-formed XML ({exc}): the file is cut short or damaged; "
                f"export it again (or fix that line)") from None
        except (EOFError, OSError, zlib.error) as exc:  # what gzip raises for a cut or damaged archive
            raise InvalidEventError(f"{path.name} cannot be decompressed ({exc}): the gzip file is cut short "
                                    f"or damaged; compress the .xes again") from None


def _open(path: Path) -> IO[bytes]:
    """The file as bytes, decompressed if it is gzip (known by its first bytes, whatever its name)."""
    if not path.is_file():
        raise InvalidEventError(f"no file at {str(path)!r} to read XES from")
    with path.open("rb") as file:
        compressed = file.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _events(parsed: Iterator[tuple[str, ET.Element]], name: str, dates: set[str]) -> Iterator[dict[str, Any]]:
    """Walk the parser's start/end events: a row is made as each event ends, its case added as its trace ends.

    A trace's attributes may come after its events, so its rows wait for ``</trace>``;
    then the trace is removed from the log element, the only thing that keeps parsed
    XML alive, so a streaming parse holds one trace at a time.
    """
    inside: list[str] = []  # the local names of the open elements, the log first
    log = None
    trace, event, waiting = 0, 0, []  # the trace and event numbers (from 1), the trace's rows so far
    for action, element in parsed:
        tag = _local(element.tag)
        if action == "start":
            if log is None:
                log = _the_log(element, tag, name)
            elif tag == "trace" and inside == ["log"]:
                trace, event = trace + 1, 0
            elif tag == "event" and inside in (["log"], ["log", "trace"]):
                event += 1
                if inside == ["log"]:
                    raise InvalidEventError(f"{name}: an event after trace {trace} is outside any trace; "
                                            f"eventlab needs each event in a trace, which is its case")
            inside.append(tag)
            continue
        inside.pop()
        if tag == "event" and inside == ["log", "trace"]:
            waiting.append(_event_row(element, f"{name}, trace {trace}, event {event}", dates))
            element.clear()
        elif tag == "trace" and inside == ["log"] and log is not None:
            case = _case(element, f"{name}, trace {trace}", dates) if waiting else {}  # no events: no rows
            yield from ({**row, **case} for row in waiting)  # event columns first, as pm4py has them
            waiting = []
            element.clear()
            log.remove(element)


def _the_log(element: ET.Element, tag: str | None, name: str) -> ET.Element:
    """The root element, which must be an XES ``<log>``."""
    if tag != "log":
        raise InvalidEventError(f"{name} is XML whose root element is <{element.tag}>, not an XES <log>; "
                                f"give an XES event log (IEEE 1849), as ProM, pm4py or Disco export")
    return element


def _local(tag: str) -> str | None:
    """An element's name without its namespace: ``{http://www.xes-standard.org/}trace`` is ``trace``.

    The XES namespace may be the default one, bound to a prefix (``<xes:trace>``) or
    absent, and older tools used another URI, so the local name is what is compared.
    Comments and processing instructions (not elements) have no name: None.
    """
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


def _event_row(element: ET.Element, where: str, dates: set[str]) -> dict[str, Any]:
    """An event's attributes by key; one without an activity or a timestamp is refused."""
    row = _attributes(element, where, dates, prefix="")
    missing = [key for key in REQUIRED if key not in row]
    if missing:
        raise InvalidEventError(
            f"{where} has no {' and no '.join(missing)} ({'; '.join(REQUIRED[key] for key in missing)}); "
            f"an event needs both to be imported: add e.g. <string key=\"concept:name\" value=\"Pay\"/> and "
            f"<date key=\"time:timestamp\" value=\"{DATE_EXAMPLE}\"/>")
    return row


def _case(element: ET.Element, where: str, dates: set[str]) -> dict[str, Any]:
    """A trace's attributes as ``case:<key>`` columns; one with no ``concept:name`` (its id) is refused."""
    case = _attributes(element, where, dates, prefix="case:")
    if "case:concept:name" not in case:
        raise InvalidEventError(
            f"{where} has no concept:name, the case id that names its stream (case-<id>); give every "
            f"trace one, e.g. <string key=\"concept:name\" value=\"order-17\"/>")
    return case


def _attributes(element: ET.Element, where: str, dates: set[str], prefix: str) -> dict[str, Any]:
    """The typed attributes directly inside a trace or an event, by key (a repeated key: the last one).

    Elements that are not XES attributes (a trace's events, another vocabulary's
    elements) are passed over.
    """
    values = {}
    for child in element:
        tag = _local(child.tag)
        if tag in SIMPLE:
            key = prefix + _key(child, tag, where)
            values[key] = _value(child, tag, where)
            if tag == "date":
                dates.add(key)
        elif tag in NESTED:
            values[prefix + _key(child, tag, where)] = _nested(child, tag, where)
    return values


def _key(element: ET.Element, tag: str, where: str) -> str:
    key = element.get("key")
    if not key:
        raise InvalidEventError(f"{where}: a <{tag}> attribute has no key; every XES attribute is written "
                                f"<{tag} key=\"name\" value=\"...\"/>")
    return key


def _value(element: ET.Element, tag: str, where: str) -> Any:
    """The value of a ``string``, ``id``, ``date``, ``int``, ``float`` or ``boolean`` element, typed.

    Meta-attributes (attributes nested inside a simple one) are not kept: the column
    holds the value itself, whether or not the file annotates it.
    """
    text = element.get("value")
    if text is None:
        raise InvalidEventError(f"{where}: <{tag} key={element.get('key')!r}> has no value; write it "
                                f"<{tag} key=\"{element.get('key')}\" value=\"...\"/>")
    if tag in ("string", "id"):
        return text
    try:
        return PARSERS[tag](text)
    except ValueError:
        raise InvalidEventError(f"{where}: <{tag} key={element.get('key')!r}> is {shown(text, 80)}, which "
                                f"is not {WANTED[tag]}; correct the value in the file") from None


def _date(text: str) -> datetime:
    """An XES date (xs:dateTime, ISO 8601), with its UTC offset if the file gives one.

    Digits beyond microseconds are dropped (Python's and pm4py's resolution).
    """
    return datetime.fromisoformat(text.strip())


def _boolean(text: str) -> bool:
    """xs:boolean: ``true``/``false`` (or ``1``/``0``)."""
    word = text.strip().lower()
    if word not in ("true", "false", "1", "0"):
        raise ValueError(text)
    return word in ("true", "1")


PARSERS = {"date": _date, "int": int, "float": float, "boolean": _boolean}
WANTED = {"date": f"an XES date (ISO 8601, e.g. {DATE_EXAMPLE})", "int": "a whole number",
          "float": "a number", "boolean": "true or false"}


def _nested(element: ET.Element, tag: str, where: str) -> Any:
    """A ``list`` or ``container`` as JSON-able Python: what the event's data can hold as it is.

    A container (attributes by key) becomes a dict; a list (an ordered sequence of
    keyed attributes, inside ``<values>``) a list of one-key dicts, so that neither
    the order nor the keys are lost: ``[{"item": "mug"}, {"item": "tea"}]``. Dates
    inside them stay ISO 8601 text (checked), since JSON has no dates.
    """
    members = element
    if tag == "list":
        values = [child for child in element if _local(child.tag) == "values"]
        members = values[0] if values else element  # XES 1849-2016 wraps list members in <values>
    pairs = []
    for child in members:
        kind = _local(child.tag)
        if kind in SIMPLE or kind in NESTED:
            key = _key(child, kind, where)
            inner = where + f", {tag} {element.get('key')!r}"
            value = _nested(child, kind, inner) if kind in NESTED else _value(child, kind, inner)
            pairs.append((key, value.isoformat() if isinstance(value, datetime) else value))
    return [{key: value} for key, value in pairs] if tag == "list" else dict(pairs)


def _times(values: pd.Series) -> pd.Series:
    """A column of ``<date>`` values as timestamps: UTC if every one has an offset, naive if none has.

    A column mixing both (or dates and other types under one key) is left as the
    Python values, so nothing is guessed: the import then names the row to correct.
    """
    given = values.dropna()
    if not all(isinstance(value, datetime) for value in given):
        return values
    aware = {value.tzinfo is not None for value in given}
    if len(aware) > 1:
        return values
    return pd.to_datetime(values, utc=aware == {True})

