"""fastpaths.loads must give exactly what json.loads gives, for any JSON eventlab may have stored."""

from __future__ import annotations

import json
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from eventlab.core import fastpaths


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=600)
@given(values, st.booleans())
def test_any_value_parses_as_json_parses_it(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert same(fastpaths.loads(text), json.loads(text))


number_texts = st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=600)
@given(st.lists(number_texts, min_size=1, max_size=5))
def test_numbers_of_any_length_parse_as_json_parses_them(numbers):
    text = ("[" + ",".join(numbers) + "]").encode()
    assert same(fastpaths.loads(text), json.loads(text))


def test_what_orjson_would_change_or_refuse_goes_to_json():
    for text in [b"[123456789012345678901234567890]", b"[-9223372036854775809]", b"[NaN]",
                 b'["\\ud800"]', b"[1e400]"]:
        assert same(fastpaths.loads(text), json.loads(text)), text[:40]


# --- restoring events without __init__ gives what cls(**data) gives, or is not used -----------------

import dataclasses  # noqa: E402

import pytest  # noqa: E402

import eventlab  # noqa: E402
from eventlab.core.events import construct  # noqa: E402
from eventlab.examples import orders  # noqa: E402


@dataclasses.dataclass(frozen=True)
class _PositiveAmount:
    amount: float

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"amount must not be negative, got {self.amount}")


@eventlab.event_type("RefundIssuedForFastPathTest")
@dataclasses.dataclass(frozen=True)
class RefundIssued(_PositiveAmount):  # its check is inherited, not in its own class body
    order_id: str = ""


def test_an_event_whose_inherited_check_rejects_the_stored_data_is_not_restored_around_it():
    store = eventlab.EventStore()
    refund = eventlab.NewEvent("RefundIssuedForFastPathTest", {"amount": -5, "order_id": "1"})
    store.append("refund-1", [refund])
    assert fastpaths.restorable_fields(RefundIssued) is None
    with pytest.raises(ValueError, match="must not be negative"):
        _ = store.read("refund-1")[0].event
    with pytest.raises(ValueError, match="must not be negative"):
        eventlab.state_at(store, "refund-1", eventlab.Decider(0, lambda n, e: n + 1, None))


order_events = st.one_of(
    st.builds(orders.OrderPlaced, st.text(max_size=5), st.integers(),
              st.lists(st.text(max_size=3), max_size=3)),
    st.builds(orders.ItemAdded, st.text(max_size=5), st.text(max_size=3)),
    st.builds(orders.OrderPaid, st.text(max_size=5), st.floats(0, 1e6), st.sampled_from(["EUR", "USD"])),
    st.builds(orders.StockReserved, st.text(max_size=5), st.integers(1, 9), st.text(max_size=5)),
)


@given(order_events)
def test_restore_many_gives_what_the_constructor_gives(event):
    cls, data = type(event), dataclasses.asdict(event)
    assert construct(cls, dict(data)) == event
    assert fastpaths.restore_many(cls, [dict(data), dict(data)]) == [event, event]


def test_restore_many_declines_dicts_that_do_not_hold_exactly_the_fields():
    assert fastpaths.restore_many(orders.ItemAdded, [{"order_id": "1"}]) is None
    assert fastpaths.restore_many(orders.ItemAdded, [{"order_id": "1", "item": "a", "extra": 1}]) is None
    one_short = [{"order_id": "1", "item": "a"}, {"order_id": "1"}]
    assert fastpaths.restore_many(orders.ItemAdded, one_short) is None


def test_a_class_with_its_own_init_is_never_restored_around_it():
    @dataclasses.dataclass(frozen=True, init=False)
    class Custom:
        x: int

        def __init__(self, x: int) -> None:
            object.__setattr__(self, "x", abs(x))

    assert fastpaths.restorable_fields(Custom) is None


def test_a_class_with_an_init_only_variable_or_a_field_outside_init_is_never_restored():
    @dataclasses.dataclass(frozen=True)
    class WithInitVar:
        x: int
        scale: dataclasses.InitVar[int] = 1

    @dataclasses.dataclass(frozen=True)
    class WithDerived:
        x: int
        doubled: int = dataclasses.field(init=False, default=0)

    assert fastpaths.restorable_fields(WithInitVar) is None
    assert fastpaths.restorable_fields(WithDerived) is None
    assert fastpaths.restorable_fields(orders.OrderPaid) == {"order_id", "amount", "currency"}


# --- a short stream read as plain rows gives the state the long way gives ----------------------------

from eventlab.application import replaying  # noqa: E402
from eventlab.examples.sample import demo_store  # noqa: E402


@pytest.fixture(scope="module")
def shop():
    """Orders (3-6 events) and stock streams (hundreds), with late events and snapshots of the stock."""
    store = demo_store(n_orders=150, seed=3)
    eventlab.snapshots.take_every(store, orders.stock_decider, 15)
    return store


def _points(store, stream_id):
    """Versions, positions and moments along a stream (and before it, and past its end)."""
    rows = store.rows("SELECT version, position, recorded_at, coalesce(occurred_at, recorded_at) FROM events "
                      "WHERE stream_id = ? ORDER BY version", [stream_id])
    picked = rows[:: max(1, len(rows) // 5)] + rows[-1:]
    return ([{"version": v} for v, _, _, _ in picked] + [{"version": 0}, {"position": 0}]
            + [{"position": p} for _, p, _, _ in picked] + [{"position": p - 1} for _, p, _, _ in picked]
            + [{"as_of": t} for _, _, t, _ in picked]
            + [{"as_of": t, "time": "occurred"} for _, _, _, t in picked])


def test_short_streams_read_as_rows_give_the_states_the_long_way_gives(shop, monkeypatch):
    """``replaying.few_events`` (rows, bounds as a column, sorted in Python) against the CTE + Arrow path
    it skips, for the shop's decider, a raw decider and latest_values, with and without snapshots."""
    lengths = dict(shop.rows("SELECT stream_id, count(*) FROM events GROUP BY ALL"))
    longest = sorted(lengths, key=lengths.get)[-2:]
    streams = [s for s in sorted(lengths) if s.startswith("order-")][:12] + longest
    assert min(lengths[s] for s in longest) > 15  # stock streams with snapshots
    raw = eventlab.Decider({"types": ()}, lambda state, e: {"types": (*state["types"], e.type)}, raw=True)
    checked = 0
    for stream_id in streams:
        deciders = [orders.stock_decider if stream_id.startswith("stock-") else orders.decider, raw,
                    eventlab.latest_values(stream_id.split("-")[0])]
        for decider in deciders:
            for point in _points(shop, stream_id):
                fast = eventlab.state_at(shop, stream_id, decider, **point)
                monkeypatch.setattr(replaying, "FEW", 0)  # every read the long way
                slow = eventlab.state_at(shop, stream_id, decider, **point)
                monkeypatch.undo()
                assert fast == slow, (stream_id, decider.name, point)
                checked += 1
    assert checked > 500


def test_a_short_read_falls_back_to_the_long_way_past_few_rows(shop, monkeypatch):
    stream_id = shop.rows("SELECT stream_id FROM events WHERE starts_with(stream_id, 'stock-') "
                          "GROUP BY ALL ORDER BY count(*) DESC LIMIT 1")[0][0]
    long_reads = []
    arrow = shop.arrow
    monkeypatch.setattr(shop, "arrow",
                        lambda query, params=(): long_reads.append(query) or arrow(query, params))
    monkeypatch.setattr(replaying, "FEW", 5)
    state = replaying.stream_state(shop, stream_id, orders.stock_decider)
    assert long_reads, "a stream longer than FEW must be read the long way"
    assert state == eventlab.replay(shop.read(stream_id), orders.stock_decider)
    monkeypatch.setattr(replaying, "FEW", 10**6)
    long_reads.clear()
    assert replaying.stream_state(shop, stream_id, orders.stock_decider) == state
    assert not long_reads


def test_records_read_back_exactly_as_written():
    """``records_from_rows`` parses a batch's JSON at once: big integers, floats, unicode, nesting intact."""
    store = eventlab.EventStore()
    data = [{"n": 123456789012345678901234567890, "x": 0.1, "t": "é\u2028\"", "deep": [[{"a": None}]]},
            {"n": -1, "x": -0.0, "t": "", "deep": []}]
    store.append("s-1", [eventlab.NewEvent("Noted", d, metadata={"by": i}) for i, d in enumerate(data)])
    read = store.read("s-1")
    assert [r.data for r in read] == data and [r.metadata for r in read] == [{"by": 0}, {"by": 1}]
    assert same(read[0].data["n"], data[0]["n"]) and same(read[1].data["x"], -0.0)
