"""The second example domain, library loans: its rules, its sample, and the generic tools on it."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import eventlab
from eventlab.examples import library
from eventlab.examples.library import (
    AddBook,
    BookAdded,
    BookBorrowed,
    BookLost,
    BookReturned,
    BorrowBook,
    LoanRenewed,
    RenewLoan,
    ReportLost,
    ReturnBook,
)
from eventlab.testing import given

added = BookAdded("b1", "Dune")
lent = BookBorrowed("b1", "ann", "2024-05-20")


def test_a_book_is_lent_renewed_at_most_twice_and_returned_late_or_not():
    given(library.decider).when(AddBook("b1", "Dune")).then(added)
    given(library.decider, added).when(BorrowBook("b1", "ann", "2024-05-20")).then(lent)
    given(library.decider, added, lent).when(BorrowBook("b1", "bob", "2024-05-21")).then_rejected("on loan")
    renewed = [LoanRenewed("b1", "2024-06-03"), LoanRenewed("b1", "2024-06-17")]
    given(library.decider, added, lent, *renewed).when(RenewLoan("b1", "2024-07-01")).then_rejected(
        "2 is the limit")
    given(library.decider, added, lent).when(ReturnBook("b1", "2024-05-21")).then(
        BookReturned("b1", "2024-05-21", True))
    given(library.decider, added, lent).when(ReturnBook("b1", "2024-05-20")).then(
        BookReturned("b1", "2024-05-20", False))
    given(library.decider, added).when(ReportLost("b1")).then_rejected("only a book on loan")
    given(library.decider).when(BorrowBook("b9", "ann", "2024-05-20")).then_rejected("not in the catalogue")


def test_the_status_rule_is_written_once_and_evolve_follows_it():
    state = library.decider.initial_state
    for event in [added, lent, LoanRenewed("b1", "2024-06-03"), BookReturned("b1", "2024-06-01", False), lent,
                  BookLost("b1")]:
        after = library.evolve(state, event)
        assert after.status == library.STATUS_AFTER.get(type(event).__eventlab_type__, state.status)
        state = after
    assert (state.status, state.loans, state.renewals) == ("Lost", 2, 0)


def test_the_sample_library_is_the_same_for_the_same_seed_and_replays_to_its_states():
    one, two = library.demo_library(seed=3), library.demo_library(seed=3)
    events = ["stream_id", "version", "type", "data", "recorded_at"]
    pd.testing.assert_frame_equal(one.read_all_df()[events], two.read_all_df()[events])
    assert set(one.counts_df()["type"]) >= {"BookAdded", "BookBorrowed", "LoanRenewed", "BookReturned"}
    replayed = pd.DataFrame([
        {"stream_id": book, **dataclasses.asdict(eventlab.replay(one.read(book), library.decider))}
        for book in one.streams("book-")])
    pd.testing.assert_frame_equal(eventlab.states_at(one, library.decider), replayed)


def test_renewals_past_the_limit_are_refused_in_the_sample_too():
    store = library.demo_library(seed=5)
    for book in store.streams("book-"):
        assert eventlab.state_at(store, book, library.decider).renewals <= library.MAX_RENEWALS


@pytest.mark.parametrize("seed", [1, 2])
def test_the_library_is_explored_like_the_shop_as_of_any_moment(seed):
    store = library.demo_library(seed=seed)
    friday = library.OPENING + pd.Timedelta(days=18, hours=10)
    then = eventlab.states_at(store, library.decider, as_of=friday)
    on_loan = then[then["status"] == "On loan"]
    for row in on_loan.itertuples(index=False):
        history = eventlab.history(store, row.stream_id, library.decider)
        known = history[history["recorded_at"] <= friday]
        assert known["status"].iloc[-1] == "On loan" and known["member"].iloc[-1] == row.member
