"""Fuzzed input: every event is either stored exactly as given and read back equal, or refused
with an EventLabError and nothing written."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import NewEvent

SQLISH = st.sampled_from(["'; DROP TABLE events; --", "\" OR 1=1 --", "$1", "?", "%s", "{}", "\\x00"])
text = st.one_of(st.text(), SQLISH, st.text(min_size=1, max_size=5).map(lambda s: s * 4000))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(), text, st.binary(max_size=10), st.sets(st.integers(), max_size=2),
    st.datetimes(), st.tuples(st.integers()),
)
payloads = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(text, st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)
stream_ids = st.one_of(st.text(max_size=40), SQLISH, st.integers(), st.none())
types = st.one_of(st.text(max_size=40), SQLISH, st.none())
expected_versions = st.one_of(
    st.integers(min_value=-3, max_value=3), st.sampled_from(["any", "no stream", "x"]),
    st.floats(), st.none(), st.booleans())
moments = st.one_of(st.none(), st.datetimes(), st.datetimes(timezones=st.just(timezone.utc)))


def plain_json(value) -> bool:
    """Would this value read back from JSON equal to itself?"""
    if value is None or isinstance(value, (bool, int, str)):
        return not isinstance(value, str) or _valid_unicode(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _valid_unicode(k) and plain_json(v) for k, v in value.items())
    return False


def _valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_STORE: list[eventlab.EventStore] = []


def shared_store() -> eventlab.EventStore:
    """One store for all examples: opening DuckDB costs far more than an append."""
    if not _STORE:
        _STORE.append(eventlab.EventStore(clock=lambda: datetime(2024, 1, 1, tzinfo=timezone.utc)))
        _STORE[0].append("before", [NewEvent("Before")])
    return _STORE[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream_id=stream_ids, type_=types, data=st.dictionaries(st.one_of(text, st.integers()), payloads,
                                                               max_size=4),
       metadata=payloads, expected=expected_versions, occurred=moments)
def test_any_input_is_stored_exactly_or_refused_with_nothing_written(stream_id, type_, data, metadata,
                                                                     expected, occurred):
    store = shared_store()
    before = store.count()
    try:
        version = store.stream_version(stream_id)
    except eventlab.EventLabError:  # not a valid stream id: the append must refuse it too
        version = 0
    try:
        recorded = store.append(stream_id, [NewEvent(type_, data, metadata if isinstance(metadata, dict)
                                                     else {"m": metadata}, occurred_at=occurred)],
                                expected_version=expected)
    except eventlab.EventLabError:
        assert store.count() == before
        assert store.verify().ok
        return
    assert plain_json(data) and plain_json(metadata)
    (stored,) = store.read(stream_id, from_version=version + 1)
    assert stored == recorded[0]
    assert (stored.type, stored.data) == (type_, data)
    assert stored.occurred_at == occurred
    assert store.verify().ok
    # the SQL-looking text did nothing
    assert store.sql("SELECT count(*) FROM events").fetchall() == [(before + 1,)]
