"""Events as they are given (domain objects or ``NewEvent``) and as they are stored (``RecordedEvent``).

A domain event is a frozen dataclass. It is stored under a *type name* that you
choose once with :func:`event_type`, so renaming the class later does not orphan
the events already in the log. Its fields become the JSON ``data`` column.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from eventlab.core import fastpaths
from eventlab.core.upcasters import chain_for
from eventlab.errors import InvalidEventError, UnknownEventTypeError, shown

_registry: dict[str, type] = {}
_colors: dict[str, str] = {}


def event_type(name: str | None = None, *, version: int = 1, color: str | None = None
               ) -> Callable[[type], type]:
    """Register a dataclass as an event type stored under a stable ``name``.

    >>> @event_type("OrderPlaced")
    ... @dataclass(frozen=True)
    ... class OrderPlaced:
    ...     order_id: str

    ``version`` is the schema version written with new events of this type;
    ``color`` (e.g. ``"#2ca02c"``), the colour its events get in every figure and
    widget (types without one get a stable colour of their own).
    """

    def register(cls: type) -> type:
        if not dataclasses.is_dataclass(cls):
            raise InvalidEventError(
                f"{cls.__name__} is not a dataclass; decorate it with @dataclass(frozen=True) "
                f"below @event_type so its fields can be stored as JSON"
            )
        type_name = name or cls.__name__
        check_name(type_name, "event type")
        existing = _registry.get(type_name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise InvalidEventError(
                f"event type {type_name!r} is already registered by {existing.__module__}."
                f"{existing.__qualname__}; give {cls.__qualname__} another name"
            )
        cls.__eventlab_type__ = type_name
        cls.__eventlab_schema_version__ = version
        _registry[type_name] = cls
        if color is not None:
            _colors[type_name] = color
        return cls

    return register


def declared_colors() -> dict[str, str]:
    """Event type -> the colour its class declared with ``@event_type(color=...)``, in the order declared."""
    return dict(_colors)


def registered_class(type_name: str) -> type | None:
    """The dataclass registered under ``type_name``, or None."""
    return _registry.get(type_name)


def type_name_of(event: object) -> str:
    """The stable type name of a domain event (registering its class on first use)."""
    cls = type(event)
    registered = cls.__dict__.get("__eventlab_type__")
    if registered is None:
        event_type()(cls)
        registered = cls.__eventlab_type__
    return registered


def decode(type_name: str, data: dict, schema_version: int = 1, *, stream_id: str = "?") -> object:
    """Turn stored ``type``/``data`` back into the registered domain object."""
    return decoder_for(type_name, schema_version, stream_id)(data)


def decoder_for(type_name: str, schema_version: int = 1, stream_id: str = "?") -> Callable[[dict], object]:
    """The function that turns stored data of this type and schema version into its domain object.

    An old schema version is upgraded first (``eventlab.core.upcasters``); then the
    object is ``cls(**data)``, so its constructor's checks run. Replays look the
    decoder up once per type instead of once per event.
    """
    cls = _registry.get(type_name)
    if cls is None:
        raise UnknownEventTypeError(
            f"no event class is registered for type {type_name!r} (stream {stream_id!r}); "
            f"import the module that defines it, or read .type and .data instead"
        )
    current = getattr(cls, "__eventlab_schema_version__", 1)
    if schema_version != current:  # an old (or too new) shape: upgrade it on the way in
        upgrade, build_current = chain_for(type_name, schema_version, current, stream_id), decoder_for(
            type_name, current, stream_id)
        return lambda data: build_current(upgrade(data))
    return lambda data: construct(cls, data, stream_id)


def construct(cls: type, data: dict, stream_id: str = "?") -> object:
    """``cls(**data)``: the readable way back from stored data to an event, its checks included."""
    try:
        return cls(**data)
    except TypeError as exc:
        raise UnknownEventTypeError(
            f"stored data of {cls.__eventlab_type__!r} (stream {stream_id!r}) does not fit "
            f"{cls.__qualname__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class NewEvent:
    """An event given by type name and JSON-able data, for when there is no dataclass.

    ``event_id`` makes an append idempotent: appending an id that is already
    stored returns the stored record instead of writing it twice.
    """

    type: str
    data: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    event_id: uuid.UUID | str | None = None
    occurred_at: datetime | None = None
    schema_version: int = 1


@dataclass(frozen=True)
class RecordedEvent:
    """One stored event: where it sits in its stream and in the whole log, and what it says."""

    stream_id: str
    version: int
    position: int
    type: str
    data: dict
    metadata: dict
    event_id: uuid.UUID
    recorded_at: datetime
    occurred_at: datetime | None = None
    schema_version: int = 1

    @property
    def event(self) -> object | None:
        """The domain object, when a class is registered for ``type``; otherwise None (decoded once)."""
        cached = self.__dict__.get("_event", _UNDECODED)
        if cached is _UNDECODED:
            cached = None if self.type not in _registry else decode(
                self.type, self.data, self.schema_version, stream_id=self.stream_id)
            self.__dict__["_event"] = cached  # not a field: equality and repr ignore it
        return cached


_UNDECODED = object()


def recorded_event(stream_id: str, version: int, position: int, type_: str, data: dict, metadata: dict,
                   event_id: uuid.UUID, recorded_at: datetime, occurred_at: datetime | None,
                   schema_version: int) -> RecordedEvent:
    """A ``RecordedEvent`` of values the store has checked, made without ``__init__`` (a fast path)."""
    return fastpaths.made_without_init(RecordedEvent, {
        "stream_id": stream_id, "version": version, "position": position, "type": type_, "data": data,
        "metadata": metadata, "event_id": event_id, "recorded_at": recorded_at, "occurred_at": occurred_at,
        "schema_version": schema_version})


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


_VALID_NAMES: set[str] = set()
"""names that passed ``check_name`` lately: a stream id is checked at every append"""


def check_name(value: object, what: str) -> str:
    """Validate a stream id or event type: a non-empty string without control characters."""
    if type(value) is str and value in _VALID_NAMES:
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(f"{what} must be a non-empty string, got {shown(value, 80)}")
    if _CONTROL_CHARACTER.search(value):
        raise InvalidEventError(
            f"{what} {value!r} contains a control character; use printable text only"
        )
    if len(value) > 1000:
        raise InvalidEventError(f"{what} is {len(value)} characters long; keep it under 1000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEventError(f"{what} {value!r} is not valid Unicode text: {exc.reason}") from None
    if type(value) is str:
        if len(_VALID_NAMES) >= 100_000:
            _VALID_NAMES.clear()
        _VALID_NAMES.add(value)
    return value


MAX_DEPTH = 100
"""how deeply event data and metadata may nest lists and dicts"""


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_iterencode = (json.encoder.c_make_encoder(None, _ENCODER.default, json.encoder.encode_basestring, None,
                                           ":", ",", False, False, False)
               if json.encoder.c_make_encoder else None)


def compact_json(value: Any) -> str:
    """``value`` as compact UTF-8 JSON text, refusing NaN and Infinity (raises ValueError, TypeError).

    The store's one JSON dialect. The C encoder is built once: ``json.dumps`` with
    options builds a new one per call, which costs more than the encoding itself.
    """
    return "".join(_iterencode(value, 0)) if _iterencode else _ENCODER.encode(value)


def to_json(value: Any, what: str) -> str:
    """Encode ``value`` as compact JSON text, refusing anything that would not read back equal."""
    return encode_json(value, what)[0]


def encode_json(value: Any, what: str, *, fresh: bool = False) -> tuple[str, Any]:
    """``value`` as compact JSON text, and the value that text reads back as (equal to ``value``).

    Anything that would not read back equal is refused with a message naming the
    offending part: NaN, non-string keys, tuples, sets, bytes, lone surrogates...
    ``fresh=True`` says nobody else holds ``value``: if it is a flat dict of plain
    scalars (and lists of them) it is returned as it is instead of a parsed copy.
    """
    if type(value) is dict and not value:
        return "{}", {}
    try:  # the usual case, at C speed: encode, decode, compare
        text = compact_json(value)
        if text.count("[") + text.count("{") <= MAX_DEPTH:  # so it cannot nest deeper than that
            text.encode("utf-8")
            if fresh and _flat(value):  # such values read back equal: no need to parse them again
                return text, value
            parsed = json.loads(text)
            if parsed == value:
                return text, parsed
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        pass
    _check_json(value, what)  # walks the value to say exactly what is wrong with it
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text, json.loads(text)


def _flat(value: dict) -> bool:
    """A dict of string keys and exact str/int/float/bool/None values, or lists of those."""
    if type(value) is not dict:
        return False
    scalars = _SCALARS
    for key, item in value.items():
        if type(key) is not str:
            return False
        kind = type(item)
        if kind not in scalars and not (kind is list and all(type(x) in scalars for x in item)):
            return False
    return True


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidEventError(f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it")
    if value is None or isinstance(value, (bool, int)):
        if isinstance(value, int) and value.bit_length() > 14_000:  # about Python's 4300-digit limit
            try:
                str(value)
            except ValueError:
                raise InvalidEventError(
                    f"{where} is an integer of {value.bit_length():,} bits, too long to write as JSON "
                    f"text (Python reads at most {sys.get_int_max_str_digits()} digits); store it as "
                    f"a string, e.g. hex(n)") from None
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError(
                f"{where} is {value!r}, which JSON cannot store; use None or a string instead"
            )
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEventError(
                f"{where} holds a string with a lone surrogate ({value!r}); it is not valid Unicode"
            ) from None
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(
                    f"{where} has the key {shown(key, 80)} ({type(key).__name__}); JSON keys must be "
                    f"strings, so convert it with str() first"
                )
            _check_json(key, f"{where} key", depth + 1)
            _check_json(item, f"{where}[{key!r}]", depth + 1)
        return
    raise InvalidEventError(
        f"{where} is a {type(value).__name__} ({shown(value, 80)}), which JSON cannot store; "
        f"use str, int, float, bool, None, list or dict (e.g. a datetime as .isoformat())"
    )


def payload_of(event: object) -> dict:
    """The JSON-able field dict of a domain dataclass (tuples become lists)."""
    return {name: _plain(getattr(event, name)) for name in field_names(type(event))}


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, in order (looked up once per class)."""
    return tuple(f.name for f in dataclasses.fields(cls))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return payload_of(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, (str, int)):
        return value.value  # enums
    return value
