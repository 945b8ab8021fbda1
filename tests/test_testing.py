"""given / when / then: passing scenarios stay quiet, failing ones say exactly what differed."""

from __future__ import annotations

import re

import pytest

import eventlab
from eventlab import Decider
from eventlab.errors import CommandRejected
from eventlab.examples.orders import AddItem, ItemAdded, OrderPaid, OrderPlaced, PayOrder, decider
from eventlab.testing import given

placed = OrderPlaced("123", 1, ["a"])


def test_then_passes_when_the_decided_events_are_equal():
    assert given(decider, placed).when(PayOrder("123", 100)).then(OrderPaid("123", 100)) is None


def test_then_with_no_events_expects_none():
    quiet = Decider(initial_state=None, evolve=lambda s, e: s, decide=lambda c, s: [])
    given(quiet).when("anything").then()
    with pytest.raises(AssertionError, match=r"\+ 'surprise'"):
        given(Decider(None, lambda s, e: s, lambda c, s: ["surprise"])).when("anything").then()


def test_then_shows_a_line_diff_of_expected_and_actual_events():
    with pytest.raises(AssertionError) as caught:
        given(decider, placed).when(AddItem("123", "b")).then(ItemAdded("123", "b"), ItemAdded("123", "c"))
    message = str(caught.value)
    assert message.splitlines() == [
        "given:",
        "  OrderPlaced(order_id='123', user_id=1, items=['a'])",
        "when:",
        "  AddItem(order_id='123', item='b')",
        "then expected (-) but got (+):",
        "    ItemAdded(order_id='123', item='b')",
        "  - ItemAdded(order_id='123', item='c')",
    ]


def test_then_marks_the_differing_field():
    with pytest.raises(AssertionError) as caught:
        given(decider, placed).when(PayOrder("123", 50)).then(OrderPaid("123", 100))
    lines = str(caught.value).splitlines()
    assert "  - OrderPaid(order_id='123', amount=100, currency='EUR')" in lines
    assert "  + OrderPaid(order_id='123', amount=50, currency='EUR')" in lines
    assert any(line.lstrip().startswith("?") and "^" in line for line in lines)


def test_then_reports_an_unexpected_rejection_with_its_reason():
    with pytest.raises(AssertionError) as caught:
        given(decider).when(PayOrder("123", 100)).then(OrderPaid("123", 100))
    assert str(caught.value).splitlines()[:2] == ["given:", "  (no events)"]
    assert str(caught.value).endswith(
        "but the command was rejected: order 123 has not been placed; place it before sending PayOrder")


def test_then_rejected_returns_the_rejection():
    rejection = given(decider, placed, OrderPaid("123", 100)).when(PayOrder("123", 1)).then_rejected()
    assert isinstance(rejection, CommandRejected)
    assert rejection.reason == "order 123 is already paid; it cannot be paid twice"


def test_then_rejected_matches_a_substring_or_a_pattern():
    scenario = given(decider, placed, OrderPaid("123", 100)).when(PayOrder("123", 1))
    scenario.then_rejected("paid twice")
    scenario.then_rejected(re.compile(r"order \d+ is already paid"))
    with pytest.raises(AssertionError, match="matching 'paid thrice', but the reason was:\n  order 123"):
        scenario.then_rejected("paid thrice")
    with pytest.raises(AssertionError, match=re.escape("matching re.compile('thri+ce')")):
        scenario.then_rejected(re.compile("thri+ce"))
    with pytest.raises(AssertionError, match="matching 'order 123.'"):
        scenario.then_rejected("order 123.")  # a string is plain text, not a pattern


def test_then_rejected_fails_when_the_command_is_accepted():
    with pytest.raises(AssertionError, match=r"expected a rejection, but the command decided:\n"
                                             r"  OrderPaid\(order_id='123', amount=100, currency='EUR'\)"):
        given(decider, placed).when(PayOrder("123", 100)).then_rejected()


def test_given_accepts_events_read_from_a_store():
    with eventlab.EventStore() as store:
        store.append("order-123", [placed])
        given(decider, *store.read("order-123")).when(PayOrder("123", 5)).then(OrderPaid("123", 5))
