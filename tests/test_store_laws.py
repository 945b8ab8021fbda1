"""Laws of the log, for any sequence of appends, conflicts, units of work and imports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import NewEvent

streams = st.sampled_from(["order-1", "order-2", "order-3", "stock-a"])
appends = st.tuples(
    st.just("append"), streams,
    st.lists(st.sampled_from(["Placed", "Added", "Paid"]), min_size=0, max_size=3),
    st.integers(min_value=-1, max_value=2),  # offset from the true version: 0 is right, others conflict
)
batches = st.tuples(st.just("uow"), st.lists(appends, min_size=1, max_size=4))
imports = st.tuples(st.just("import"), st.lists(st.tuples(streams, st.sampled_from(["Old"])),
                                               min_size=1, max_size=5))
operations = st.lists(st.one_of(appends, batches, imports), min_size=1, max_size=12)


def clock():
    moments = iter(datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i) for i in range(10**6))
    return lambda: next(moments)


def apply(store, model, operation):
    """Apply one operation to the store and to a plain-Python model of what must be stored."""
    kind = operation[0]
    if kind == "append":
        _, stream_id, types, offset = operation
        expected = len(model.get(stream_id, [])) + offset
        if expected < 0:
            expected = "any"
        try:
            store.append(stream_id, [NewEvent(t) for t in types], expected_version=expected)
        except eventlab.ConcurrencyError:
            assert offset != 0
            return
        assert offset == 0 or expected == "any"
        model.setdefault(stream_id, []).extend(types)
    elif kind == "uow":
        staged = {k: list(v) for k, v in model.items()}
        with store.unit_of_work():
            for op in operation[1]:
                apply(store, staged, op)
        model.clear()
        model.update(staged)
    else:
        log = store.read_all()
        last = log[-1].recorded_at if log else datetime(2024, 1, 1, tzinfo=timezone.utc)
        rows = operation[1]
        frame = pd.DataFrame({
            "stream_id": [s for s, _ in rows], "type": [t for _, t in rows], "data": ["{}"] * len(rows),
            "recorded_at": [last + timedelta(seconds=1)] * len(rows)})
        store.import_events(frame)
        for stream_id, type_ in rows:
            model.setdefault(stream_id, []).append(type_)
        store.clock = clock_after(last + timedelta(seconds=2))


def clock_after(start):
    moments = iter(start + timedelta(seconds=i) for i in range(10**6))
    return lambda: next(moments)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_any_history_keeps_the_log_gap_free_contiguous_and_verified(ops):
    model: dict[str, list[str]] = {}
    with eventlab.EventStore(clock=clock()) as store:
        for operation in ops:
            apply(store, model, operation)
        log = store.read_all()
        assert [r.position for r in log] == list(range(1, len(log) + 1))
        for stream_id, types in model.items():
            stored = store.read(stream_id)
            assert [r.type for r in stored] == types  # conflicting appends wrote nothing
            assert [r.version for r in stored] == list(range(1, len(types) + 1))
            assert store.stream_version(stream_id) == len(types)
        times = [r.recorded_at for r in log]
        assert times == sorted(times)
        assert store.verify().ok


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=2, max_value=25), data=st.data())
def test_verify_points_at_any_edited_deleted_or_swapped_position(n, data):
    with eventlab.EventStore(clock=clock()) as store:
        for i in range(n):
            store.append(f"s-{i % 3}", [NewEvent("X", {"i": i})])
        target = data.draw(st.integers(min_value=1, max_value=n))
        kind = data.draw(st.sampled_from(["edit", "delete", "swap"]))
        if kind == "edit":
            store.sql(f"UPDATE events SET data = '{{\"i\": -1}}' WHERE position = {target}")
        elif kind == "delete":
            if target == n:  # deleting the newest event leaves a valid shorter chain
                target -= 1
            store.sql(f"DELETE FROM events WHERE position = {target}")
        else:
            other = data.draw(st.integers(min_value=1, max_value=n).filter(lambda p: p != target))
            low, high = sorted((target, other))
            store.sql(f"""UPDATE events SET position = CASE position WHEN {low} THEN {high} ELSE {low} END
                          WHERE position IN ({low}, {high})""")
            target = low
        report = store.verify()
        assert not report.ok and report.first_bad_position == target
