"""Bad input, fuzzed through every way in: append, unit_of_work, import_events, handle, the clock.

The law: each input is either stored exactly as given and reads back equal (same
types, same values, same order of keys), or refused with an ``EventLabError`` and
nothing written. And what is plainly storable is stored: a store that refused
everything would fail here too. SQL-looking text goes everywhere text goes, and
must come back verbatim without having run.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import NewEvent
from eventlab.events import event_type

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- what to throw at it ---------------------------------------------------------------------

SQL_TEXTS = [
    "'; DROP TABLE events; --", "x' OR '1'='1", "\" OR 1=1 --", "$1", "?", "%s", ":name", "{}", "\\x00",
    "'); DELETE FROM events WHERE ('1'='1", "$$; TRUNCATE events; $$", "/* */ SELECT 1", "%' --",
]
SQLISH = st.sampled_from(SQL_TEXTS)
SPECIAL_CHARACTERS = [
    "\x00", "\x1f", "\x7f", "\x85", "\ud800", "\udfff", "\ud83d", "\uffff", "\ufeff", "\u2028", "\u3000",
    "\U0001f600", "\U000e0001", "\U0010ffff", "\\", '"', "'", "\n", "\x1f",  # \x1f: the chain's separator
]
CHARACTERS = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]),
                       st.sampled_from(SPECIAL_CHARACTERS))  # every plane, surrogates and NUL included
TEXT = st.one_of(st.text(CHARACTERS, max_size=12), SQLISH)
HUGE_TEXT = st.sampled_from(["x" * 2**20, "é" * 300_000, "\U0001f600" * 100_000, "'; --" * 50_000])
NUMBERS = st.one_of(
    st.integers(), st.floats(),  # floats include NaN, infinities, -0.0 and subnormals
    st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**300, 1.7976931348623157e308, 5e-324, -0.0]),
    st.sampled_from([3000, 4000, 4300, 5000, -5000]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1)))
NOT_JSON = st.one_of(
    st.binary(max_size=4), st.sets(st.integers(), max_size=2), st.frozensets(st.integers(), max_size=2),
    st.tuples(st.integers()), st.datetimes(), st.decimals(allow_nan=False, places=2),
    st.complex_numbers(max_magnitude=10), st.builds(object), st.builds(uuid.uuid4))
KEYS = st.one_of(TEXT, TEXT, TEXT, st.integers(), st.none(), st.booleans(), st.floats(),
                 st.tuples(st.integers()))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, NOT_JSON)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


def nested(depth: int) -> Any:
    """Lists and dicts ``depth`` deep (a scalar at the bottom)."""
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"d": value}
    return value


def circular() -> list:
    loop: list = []
    loop.append(loop)
    return loop


PAYLOADS = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=5),
    st.builds(lambda d, big: {**d, "big": big}, st.dictionaries(TEXT, VALUES, max_size=2), HUGE_TEXT),
    st.integers(90, 110).map(lambda depth: {"deep": nested(depth)}),
    st.just({"loop": circular()}),
    VALUES,  # not a dict at all, mostly
)
TEXT_NAMES = st.one_of(st.text(CHARACTERS, max_size=30), SQLISH, st.sampled_from(
    ["", " ", "\u3000", "\x85", "x" * 1000, "x" * 1001, "order-1", "a\x00b", "a\x1fb"]))
NAMES = st.one_of(TEXT_NAMES, st.integers(), st.none(), st.binary(max_size=3))
OFFSETS = st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                            max_value=timedelta(hours=23, minutes=59)))
EXTREMES = [datetime.min, datetime.max, datetime(1, 1, 1, 5), datetime(9999, 12, 31, 20),
            datetime(1970, 1, 1), datetime(1677, 9, 21), datetime(2262, 4, 12)]
MOMENTS = st.one_of(
    st.none(), st.datetimes(),  # naive
    st.datetimes(timezones=OFFSETS),
    st.builds(lambda moment, tz: moment.replace(tzinfo=tz), st.sampled_from(EXTREMES), OFFSETS),
    st.sampled_from(["2024-01-01T00:00:00Z", 1_700_000_000, datetime(2024, 1, 1).date()]))
EXPECTED = st.one_of(st.sampled_from(["any", "no stream", "latest", None]), st.integers(-2, 3),
                     st.booleans(), st.floats(), st.integers(2**62, 2**70), st.just(Decimal(0)))
EVENT_IDS = st.one_of(st.none(), st.none(), st.uuids(), st.uuids().map(str), TEXT, st.integers(),
                      st.binary(max_size=16))
SCHEMA_VERSIONS = st.one_of(st.just(1), st.just(1), st.integers(-1, 3),
                            st.sampled_from([2**31 - 1, 2**31, 2**40]), st.booleans(), st.floats(),
                            st.just("1"))


# --- the oracle --------------------------------------------------------------------------------


def same(given: Any, stored: Any) -> bool:
    """Equal in type and value (floats by their repr: -0.0 is not 0.0), dict keys in the same order."""
    if type(given) is not type(stored):
        return False
    if isinstance(given, float):
        return repr(given) == repr(stored)
    if isinstance(given, list):
        return len(given) == len(stored) and all(map(same, given, stored))
    if isinstance(given, dict):
        return list(given) == list(stored) and all(same(given[k], stored[k]) for k in given)
    return given == stored


def unicode_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value: Any, depth: int = 0) -> bool:
    """Plainly storable as JSON that reads back the same (conservatively: not near any limit)."""
    if depth > 90:
        return False
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value.bit_length() < 13_000  # Python reads ints of up to 4300 digits from text
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return unicode_ok(value)
    if isinstance(value, list):
        return all(storable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and unicode_ok(k) and storable(v, depth + 1) for k, v in value.items())
    return False


def json_like(value: Any) -> bool:
    """Could this have been stored as JSON at all (a stored value must be)?"""
    if value is None or isinstance(value, (bool, int, str)):
        return not isinstance(value, str) or unicode_ok(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and unicode_ok(k) and json_like(v) for k, v in value.items())
    return False


def valid_name(name: Any) -> bool:
    return (isinstance(name, str) and bool(name.strip()) and len(name) <= 1000 and unicode_ok(name)
            and not any(ord(c) < 32 or ord(c) == 127 for c in name))


def valid_moment(moment: Any) -> bool:
    if moment is None:
        return True
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return False
    try:
        moment.astimezone(timezone.utc)
    except OverflowError:
        return False
    return True


def valid_event_id(event_id: Any) -> bool:
    if event_id is None or isinstance(event_id, uuid.UUID):
        return True
    try:
        uuid.UUID(str(event_id))
    except ValueError:
        return False
    return True


def matches(expected: Any, version: int) -> bool:
    if expected == "any" and isinstance(expected, str):
        return True
    if expected == "no stream" and isinstance(expected, str):
        return version == 0
    return type(expected) is int and expected == version


def fingerprint(store: eventlab.EventStore) -> tuple:
    """What must not change when an input is refused: the rows, the head of the chain, the tables."""
    rows = store.sql("SELECT count(*), max(position), arg_max(hash, position) FROM events").fetchall()[0]
    tables = store.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    return rows, tables


_stores: dict[str, eventlab.EventStore] = {}


def shared(name: str) -> eventlab.EventStore:
    """One store per test for all its examples (opening DuckDB costs more than an append)."""
    if name not in _stores:
        moments = (datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i) for i in range(10**9))
        _stores[name] = eventlab.EventStore(clock=lambda: next(moments))
    return _stores[name]


def expected_metadata(metadata: Any, event_metadata: Any) -> Any:
    return {**(metadata or {}), **event_metadata} if isinstance(event_metadata, dict) else None


# --- append ----------------------------------------------------------------------------------


@settings(FUZZ, max_examples=150)
# the finds of this test, kept: each one used to escape as a raw Python or DuckDB error
@example(stream_id="s", type_="T", data={"n": 10**5000}, event_metadata={}, metadata=None, occurred=None,
         expected="any", event_id=None, schema_version=1)
@example(stream_id="s", type_="T", data={}, event_metadata=None, metadata=None, occurred=None,
         expected="any", event_id=None, schema_version=1)
@example(stream_id="s", type_="T", data={}, event_metadata={}, metadata=None,
         occurred=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), expected="any", event_id=None,
         schema_version=1)
@example(stream_id="s", type_="T", data={}, event_metadata={}, metadata=None, occurred=None,
         expected=10**5000, event_id=10**5000, schema_version=2**40)
@given(stream_id=NAMES, type_=NAMES, data=PAYLOADS, event_metadata=PAYLOADS,
       metadata=st.one_of(st.none(), PAYLOADS), occurred=MOMENTS, expected=EXPECTED, event_id=EVENT_IDS,
       schema_version=SCHEMA_VERSIONS)
def test_append_stores_exactly_or_refuses_and_writes_nothing(stream_id, type_, data, event_metadata, metadata,
                                                             occurred, expected, event_id, schema_version):
    store = shared("append")
    before = fingerprint(store)
    version = store.stream_version(stream_id) if valid_name(stream_id) else 0
    event = NewEvent(type_, data, event_metadata, event_id=event_id, occurred_at=occurred,
                     schema_version=schema_version)
    again = valid_event_id(event_id) and event_id is not None and store.sql(
        "SELECT count(*) FROM events WHERE event_id = ?::UUID", [str(uuid.UUID(str(event_id)))]
    ).fetchall()[0][0]
    fine = (valid_name(stream_id) and valid_name(type_) and isinstance(data, dict) and storable(data)
            and (metadata is None or isinstance(metadata, dict)) and isinstance(event_metadata, dict)
            and storable(expected_metadata(metadata, event_metadata)) and valid_moment(occurred)
            and valid_event_id(event_id) and type(schema_version) is int and 1 <= schema_version < 2**31
            and matches(expected, version) and not again)
    try:
        recorded = store.append(stream_id, [event], expected_version=expected, metadata=metadata)
    except eventlab.EventLabError:
        assert fingerprint(store) == before, "a refused append wrote something"
        assert not fine, "a plainly storable event was refused"
        return
    if again:  # an idempotent retry: the stored event comes back, nothing new is written
        assert fingerprint(store) == before and str(recorded[0].event_id) == str(uuid.UUID(str(event_id)))
        return
    assert valid_name(stream_id) and valid_name(type_) and json_like(data)
    assert matches(expected, version) and valid_moment(occurred)
    (stored,) = store.read(stream_id, from_version=version + 1)
    assert stored == recorded[0]
    assert (stored.stream_id, stored.type, stored.version, stored.schema_version) == (
        stream_id, type_, version + 1, schema_version)
    assert same(data, stored.data) and same(expected_metadata(metadata, event_metadata), stored.metadata)
    assert stored.occurred_at == occurred
    assert event_id is None or str(stored.event_id) == str(uuid.UUID(str(event_id)))
    assert fingerprint(store)[0][0] == before[0][0] + 1 and fingerprint(store)[1] == before[1]
    assert store.verify().ok


# --- unit of work ------------------------------------------------------------------------------


@settings(FUZZ, max_examples=60)
@given(items=st.lists(st.tuples(NAMES, NAMES, PAYLOADS, MOMENTS), min_size=1, max_size=4))
def test_a_unit_of_work_stores_every_event_exactly_or_none(items):
    store = shared("unit")
    before = fingerprint(store)
    fine = all(valid_name(s) and valid_name(t) and isinstance(d, dict) and storable(d) and valid_moment(o)
               for s, t, d, o in items)
    try:
        with store.unit_of_work():
            recorded = [store.append(s, [NewEvent(t, d, occurred_at=o)])[0] for s, t, d, o in items]
    except eventlab.EventLabError:
        assert fingerprint(store) == before, "a refused unit of work wrote part of itself"
        assert not fine, "a unit of plainly storable events was refused"
        return
    assert all(valid_name(s) and valid_name(t) and json_like(d) for s, t, d, _ in items)
    stored = store.read_all(from_position=before[0][0] + 1)
    assert stored == recorded
    for (stream_id, type_, data, occurred), event in zip(items, stored):
        assert (event.stream_id, event.type, event.occurred_at) == (stream_id, type_, occurred)
        assert same(data, event.data)
    assert store.verify().ok


# --- handle ----------------------------------------------------------------------------------


@event_type("ReliabilityFuzzed")
@dataclass(frozen=True)
class Fuzzed:
    value: Any


@dataclass(frozen=True)
class Record:
    value: Any


decider = eventlab.Decider(0, lambda count, event: count + 1, lambda command, count: [Fuzzed(command.value)],
                           name="reliability-fuzz", category="fuzz")


def as_stored(value: Any, depth: int = 0) -> Any:
    """What a dataclass field becomes in the log: tuples are written as lists."""
    if depth > 150:
        return object()  # a loop, or deeper than anything storable
    if isinstance(value, (list, tuple)):
        return [as_stored(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: as_stored(v, depth + 1) for k, v in value.items()}
    return value


@settings(FUZZ, max_examples=80)
@example(stream_id="s", value=circular())
@example(stream_id="s", value=({"a": (1, [2, (3,)])},))
@given(stream_id=NAMES, value=st.one_of(VALUES, PAYLOADS))
def test_handle_stores_the_decided_event_exactly_or_refuses_the_command(stream_id, value):
    store = shared("handle")
    before = fingerprint(store)
    version = store.stream_version(stream_id) if valid_name(stream_id) else 0
    fine = valid_name(stream_id) and storable(as_stored(value))
    try:
        recorded = eventlab.handle(store, decider, stream_id, Record(value))
    except eventlab.EventLabError:
        assert fingerprint(store) == before, "a refused command wrote something"
        assert not fine, "a command deciding a plainly storable event was refused"
        return
    assert valid_name(stream_id) and json_like(as_stored(value))
    (stored,) = store.read(stream_id, from_version=version + 1)
    assert stored == recorded[0] and stored.type == "ReliabilityFuzzed"
    assert same({"value": as_stored(value)}, stored.data)
    assert same(as_stored(value), stored.event.value)
    assert eventlab.state_at(store, stream_id, decider) == version + 1


# --- the clock -------------------------------------------------------------------------------


@settings(FUZZ, max_examples=40)
@example(moments=[datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 1, tzinfo=timezone.utc),
                  datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), datetime(2024, 1, 3),
                  datetime.max.replace(tzinfo=timezone.utc)])
@given(moments=st.lists(st.one_of(st.datetimes(timezones=OFFSETS), st.datetimes(timezones=OFFSETS),
                                  MOMENTS.filter(lambda m: m is not None)), min_size=1, max_size=8))
def test_any_clock_gives_times_that_never_go_backwards_or_a_clear_refusal(moments):
    """Naive, out-of-range, non-datetime and backwards-jumping clocks: recorded_at never decreases."""
    ticks = iter(moments)
    store = eventlab.EventStore(clock=lambda: next(ticks))
    latest = None
    for i, moment in enumerate(moments):
        before = store.count()
        try:
            recorded = store.append("clocked", [NewEvent("Tick", {"i": i})])
        except eventlab.EventLabError:
            assert store.count() == before and not valid_moment(moment)
            continue
        assert valid_moment(moment)
        utc = moment.astimezone(timezone.utc)
        latest = utc if latest is None or utc > latest else latest
        assert recorded[0].recorded_at == latest and recorded[0].recorded_at.tzinfo is not None
    times = [r.recorded_at for r in store.read("clocked")]
    assert times == sorted(times) and store.verify().ok
    store.close()


# --- bulk import -----------------------------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
JSON_TEXTS = st.one_of(
    st.dictionaries(st.text(CHARACTERS, max_size=5), VALUES, max_size=3).map(
        lambda d: json.dumps(d, ensure_ascii=False) if storable(d) else "{}"),
    st.sampled_from(['{"a": NaN}', '{"a": [1, -Infinity]}', '{"a": 1e999}', '{"a": 1,}', '{"a": [1,]}',
                     '[1, 2]', '"text"', "null", "", "{", '{"a": 1} x', "{'a': 1}", '{"a": "\\ud800"}',
                     '{"a": %s}' % ("9" * 5000), '{"a": "banana:inf,}"}', '{"a":1e5,"b":-0.0}']),
    SQLISH)


@settings(FUZZ, max_examples=40)
@example(rows=[("s", "T", "{}", "{}", 0, None), ("s", "T", '{"a": 1,}', "{}", 1, None)], naive=False)
@example(rows=[("s", "T", '{"a": [1, 2,]}', "{}", 0, None)], naive=False)
@example(rows=[("s", "T", "{}", '{"a": NaN}', 0, None)], naive=False)
@example(rows=[("s", "T", '{"a": -Infinity}', "{}", 0, None)], naive=False)
@example(rows=[("s", "T", '{"a": 1e999}', "{}", 0, None)], naive=False)
@example(rows=[("s", "T", '{"a": %s}' % ("9" * 5000), "{}", 0, None)], naive=False)
@example(rows=[("s", "T", "{}", 10**4300, 0, None)], naive=False)
@example(rows=[("x" * 1001, "T", "{}", "{}", 0, None)], naive=False)
@example(rows=[("\u3000", "T", "{}", "{}", 0, None)], naive=False)
@example(rows=[("s", "T", '{"a": "banana:inf,}", "b": 1e5}', "{}", 0, None)], naive=False)
@given(rows=st.lists(st.tuples(TEXT_NAMES, TEXT_NAMES, st.one_of(JSON_TEXTS, PAYLOADS),
                               st.one_of(JSON_TEXTS, PAYLOADS),
                               st.integers(-5, 5), st.one_of(st.none(), st.datetimes(timezones=OFFSETS))),
                     min_size=1, max_size=4),
       naive=st.booleans())
def test_an_import_stores_every_row_exactly_or_none(rows, naive):
    """(Columns are cast to their types, so a number given as a stream id would be stored as text:
    the names here are text, as they are in CSV, JSON Lines and Parquet files.)"""
    frame = pd.DataFrame({
        "stream_id": pd.Series([r[0] for r in rows], dtype=object),
        "type": pd.Series([r[1] for r in rows], dtype=object),
        "data": pd.Series([r[2] for r in rows], dtype=object),
        "metadata": pd.Series([r[3] for r in rows], dtype=object),
        "recorded_at": [T0.replace(tzinfo=None) if naive else T0 + timedelta(seconds=r[4]) for r in rows],
        "occurred_at": pd.Series([r[5] for r in rows], dtype=object),
    })
    store = eventlab.EventStore()
    try:
        store.import_events(frame)
    except eventlab.EventLabError:
        assert store.count() == 0, "a refused import wrote part of itself"
        return
    finally_stored = store.read_all()
    store.close()
    assert not naive and len(finally_stored) == len(rows)
    times = [T0 + timedelta(seconds=r[4]) for r in rows]
    assert times == sorted(times), "rows out of time order were imported"
    for (stream_id, type_, data, metadata, _, occurred), event, at in zip(rows, finally_stored, times):
        assert (event.stream_id, event.type, event.recorded_at) == (stream_id, type_, at)
        assert valid_name(stream_id) and valid_name(type_)
        for as_given, got in ((data, event.data), (metadata, event.metadata)):
            expected = json.loads(as_given) if isinstance(as_given, str) else as_given
            assert isinstance(expected, dict) and json_like(expected) and same(expected, got)
        assert event.occurred_at == occurred


# --- SQL-looking text through every read -------------------------------------------------------


@pytest.mark.parametrize("text", SQL_TEXTS)
def test_sql_looking_text_is_only_ever_a_value_in_reads_too(text):
    with eventlab.EventStore() as store:
        store.append(text, [NewEvent(text, {text: text}, metadata={text: text})], expected_version=0)
        (event,) = store.read(text)
        assert (event.stream_id, event.type, event.data, event.metadata) == (text, text, {text: text},
                                                                                {text: text})
        assert store.streams(prefix=text) == [text] and store.stream_version(text) == 1
        assert [r.type for r in store.read_all(types=[text])] == [text] and store.count(text) == 1
        assert list(store.read_df(text)["type"]) == [text]
        assert store.sql("SELECT count(*) FROM events").fetchall() == [(1,)] and store.verify().ok
