"""A second domain, not about orders: the loans of a small library.

A book lives in the stream ``book-<book_id>``. It is added to the catalogue,
borrowed by a member until a due date, perhaps renewed (twice at most), returned,
or reported lost. The rules sit in ``decide``; ``evolve`` only records what
happened. Nothing of eventlab's pictures or widgets knows this domain: it gets
them through its ``Summary``, as the shop does.

>>> from eventlab import replay
>>> state = replay([BookAdded("b1", "Dune"), BookBorrowed("b1", "ann", "2024-05-20")], decider)
>>> state.status, state.member, state.due
('On loan', 'ann', '2024-05-20')
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import NoReturn

from eventlab.application.handling import handle
from eventlab.core.decider import Decider, Summary, replay
from eventlab.core.events import event_type
from eventlab.errors import CommandRejected
from eventlab.storage.store import EventStore

MAX_RENEWALS = 2
LOAN_DAYS = 14

# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddBook:
    """Ask to put a new book on the shelves."""

    book_id: str
    title: str


@dataclass(frozen=True)
class BorrowBook:
    """Ask to lend a book to a member until ``due`` (an ISO date)."""

    book_id: str
    member: str
    due: str


@dataclass(frozen=True)
class RenewLoan:
    """Ask to keep a borrowed book longer, until ``due``."""

    book_id: str
    due: str


@dataclass(frozen=True)
class ReturnBook:
    """Ask to record that a borrowed book came back on ``on`` (an ISO date)."""

    book_id: str
    on: str


@dataclass(frozen=True)
class ReportLost:
    """Ask to record that a borrowed book will not come back."""

    book_id: str


# --- events ---------------------------------------------------------------------------------------


@event_type("BookAdded", color="#3182bd")  # blue
@dataclass(frozen=True)
class BookAdded:
    """A book joined the catalogue."""

    book_id: str
    title: str


@event_type("BookBorrowed", color="#e6550d")  # orange
@dataclass(frozen=True)
class BookBorrowed:
    """A member took the book home, to bring it back by ``due``."""

    book_id: str
    member: str
    due: str


@event_type("LoanRenewed", color="#fdae6b")  # light orange
@dataclass(frozen=True)
class LoanRenewed:
    """The loan was extended to ``due``."""

    book_id: str
    due: str


@event_type("BookReturned", color="#31a354")  # green
@dataclass(frozen=True)
class BookReturned:
    """The book is back on the shelves; ``late`` when it came after its due date."""

    book_id: str
    on: str
    late: bool


@event_type("BookLost", color="#636363")  # grey
@dataclass(frozen=True)
class BookLost:
    """The book will not come back."""

    book_id: str


# --- state ----------------------------------------------------------------------------------------

STATUS_AFTER = {"BookAdded": "On shelf", "BookBorrowed": "On loan", "BookReturned": "On shelf",
                "BookLost": "Lost"}
"""The status rule, written once: the events that move a book to a status (renewals keep it on loan)."""


@dataclass(frozen=True)
class BookState:
    """One book: where it is, who has it until when, and how often it was lent and returned late."""

    book_id: str | None = None
    title: str | None = None
    status: str = "New"
    member: str | None = None
    due: str | None = None
    renewals: int = 0
    loans: int = 0
    late_returns: int = 0


def stream_id(book_id: str) -> str:
    """The stream that holds one book's events: ``"book-<book_id>"``."""
    return f"book-{book_id}"


def evolve(state: BookState, event: object) -> BookState:
    """The book after one more event (events of other types leave it as it was)."""
    match event:
        case BookAdded(book_id, title):
            state = replace(state, book_id=book_id, title=title)
        case BookBorrowed(_, member, due):
            state = replace(state, member=member, due=due, renewals=0, loans=state.loans + 1)
        case LoanRenewed(_, due):
            state = replace(state, due=due, renewals=state.renewals + 1)
        case BookReturned(_, _, late):
            state = replace(state, member=None, due=None, late_returns=state.late_returns + int(late))
    status = STATUS_AFTER.get(getattr(type(event), "__eventlab_type__", ""), state.status)
    return state if status == state.status else replace(state, status=status)


def decide(command: object, state: BookState) -> list[object]:
    """The events a command causes, or ``CommandRejected`` naming the rule it breaks."""
    match command:
        case AddBook(book_id, title):
            if state.status != "New":
                _reject(command, f"book {book_id} is in the catalogue already ({state.title!r})")
            return [BookAdded(book_id, title)]
        case BorrowBook(book_id, member, due):
            _require(command, state, "On shelf", f"book {book_id} cannot be lent")
            return [BookBorrowed(book_id, member, due)]
        case RenewLoan(book_id, due):
            _require(command, state, "On loan", f"book {book_id} cannot be renewed")
            if state.renewals >= MAX_RENEWALS:
                _reject(command, f"the loan of book {book_id} was renewed {state.renewals} times already; "
                                 f"{MAX_RENEWALS} is the limit, so {state.member} must bring it back")
            return [LoanRenewed(book_id, due)]
        case ReturnBook(book_id, on):
            _require(command, state, "On loan", f"book {book_id} cannot be returned")
            return [BookReturned(book_id, on, on > state.due)]
        case ReportLost(book_id):
            _require(command, state, "On loan", f"book {book_id} cannot be reported lost")
            return [BookLost(book_id)]
    _reject(command, f"the library decider does not know the command {command!r}")


def _require(command: object, state: BookState, status: str, what: str) -> None:
    if state.status == "New":
        _reject(command, f"{what}: it is not in the catalogue; add it first")
    if state.status != status:
        _reject(command, f"{what}: it is {state.status.lower()}, and only a book {status.lower()} can be")


def _reject(command: object, reason: str) -> NoReturn:
    raise CommandRejected(reason, command)


SUMMARY = Summary(by="status", levels=("New", "On shelf", "On loan", "Lost"), set_by=STATUS_AFTER)
"""Books counted by status; the status SQL comes from ``STATUS_AFTER``."""

decider = Decider(BookState(), evolve, decide, name="books", category="book", summary=SUMMARY)
"""The loan rules of one book, for streams ``"book-<book_id>"``."""


# --- a few weeks of a small library ----------------------------------------------------------------

TITLES = ("Dune", "Emma", "Ulysses", "Beloved", "Middlemarch", "Solaris", "Kindred", "Persuasion",
          "The Hobbit", "Frankenstein", "Dracula", "Rebecca")
MEMBERS = ("ann", "bob", "chen", "dara", "eli", "fay")
OPENING = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)  # a Monday morning


def demo_library(n_books: int = 12, days: int = 42, seed: int = 7, store: EventStore | None = None
                 ) -> EventStore:
    """A library's first ``days`` days: books added on day one, then loans, renewals, returns and losses.

    Deterministic: the same seed gives the same log, event for event. Each day
    some members borrow what is on the shelf, renew or bring back what they
    hold; now and then a book is lost. Events are recorded at the library's
    opening hours, a few minutes apart.
    """
    rng = random.Random(seed)
    moment = OPENING
    store = store or EventStore(clock=lambda: moment)
    books = [f"{i:03d}" for i in range(1, n_books + 1)]
    states = {}
    for book_id in books:
        title = TITLES[(int(book_id) - 1) % len(TITLES)]
        added = handle(store, decider, stream_id(book_id), AddBook(book_id, title))
        states[book_id] = replay(added, decider)
        moment += timedelta(minutes=3)
    for day in range(days):
        today = OPENING.date() + timedelta(days=day)
        moment = OPENING + timedelta(days=day)
        for book_id in rng.sample(books, k=min(len(books), 5)):
            command = _todays_command(rng, book_id, states[book_id], today)
            if command is None:
                continue
            states[book_id] = replay(handle(store, decider, stream_id(book_id), command), decider,
                                     states[book_id])
            moment += timedelta(minutes=rng.randint(2, 40))
    return store


def _todays_command(rng: random.Random, book_id: str, state: BookState, today: date) -> object | None:
    if state.status == "On shelf" and rng.random() < 0.3:
        return BorrowBook(book_id, rng.choice(MEMBERS), (today + timedelta(days=LOAN_DAYS)).isoformat())
    if state.status == "On loan":
        due = date.fromisoformat(state.due)
        if rng.random() < 0.02:
            return ReportLost(book_id)
        if today >= due - timedelta(days=2) and state.renewals < MAX_RENEWALS and rng.random() < 0.4:
            return RenewLoan(book_id, (due + timedelta(days=LOAN_DAYS)).isoformat())
        if rng.random() < (0.6 if today >= due else 0.2):
            return ReturnBook(book_id, today.isoformat())
    return None
