"""Notebook 3's exercise: design the events of a loyalty card from a written requirement.

The requirement (what the café owner said):

    A customer gets a loyalty card. Each coffee bought with the card earns one
    stamp. With five stamps or more, the customer can have a free coffee, which
    uses five stamps; a free coffee earns no stamp. A card is issued once, and
    a card that was never issued cannot be used.

The commands are given; the events, the state, ``evolve`` and ``decide`` are
the learner's design. The check runs the requirement as given/when/then
scenarios (``eventlab.testing``), where each "given" is made of the learner's
own events, and looks at what a good event is: a fact, named in the past
tense, that cannot change and says which card it is about.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from eventlab.core.decider import Decider, replay
from eventlab.core.testing import given
from eventlab.errors import CommandRejected
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten


@dataclass(frozen=True)
class IssueCard:
    """Give a customer a new card."""

    card_id: str
    customer: str


@dataclass(frozen=True)
class BuyCoffee:
    """A coffee is bought with the card."""

    card_id: str


@dataclass(frozen=True)
class RedeemFreeCoffee:
    """The customer asks for the free coffee their stamps pay for."""

    card_id: str


CARD = "card-1"
ISSUE, BUY, REDEEM = IssueCard(CARD, "ann"), BuyCoffee(CARD), RedeemFreeCoffee(CARD)
SCENARIOS = [
    ("a new card is issued", [], ISSUE, True),
    ("a card is issued once", [ISSUE], ISSUE, False),
    ("a card never issued cannot be used", [], BUY, False),
    ("a card never issued cannot be used", [], REDEEM, False),
    ("each coffee bought earns a stamp", [ISSUE], BUY, True),
    ("four stamps are not enough", [ISSUE, *[BUY] * 4], REDEEM, False),
    ("five stamps give a free coffee", [ISSUE, *[BUY] * 5], REDEEM, True),
    ("the free coffee uses five stamps", [ISSUE, *[BUY] * 5, REDEEM], REDEEM, False),
    ("a free coffee earns no stamp", [ISSUE, *[BUY] * 5, REDEEM, *[BUY] * 4], REDEEM, False),
    ("stamps left over still count", [ISSUE, *[BUY] * 7, REDEEM, *[BUY] * 3], REDEEM, True),
]
"""(rule, commands that came before, the command, accepted?): the requirement, line by line."""

PAST_TENSE = re.compile(r"(ed|Bought|Paid|Made|Given|Sent|Sold|Spent|Taken|Won|Got|Drunk|Begun)$")


def check_loyalty_card(decider: Decider | None) -> Verdict:
    """Run the requirement's scenarios on the learner's decider, and look at the events it decides."""
    if decider is None:
        return not_yet("decider is still None: build your Decider(initial_state, evolve, decide)")
    for rule, before, command, accepted in SCENARIOS:
        try:
            history = _history(decider, before)
            decided = list(decider.decide(command, replay(history, decider)))
        except NotImplementedError:
            return unwritten("your decider")
        except CommandRejected as rejected:
            if accepted:
                return not_yet(f"rule '{rule}': {_story(history, command)} was rejected ({rejected.reason}), "
                               f"but the requirement accepts it")
            continue
        except _SetupRejected as setup:
            return not_yet(f"rule '{rule}': {setup}")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"rule '{rule}': your decider fails: {type(error).__name__}: {error}")
        if not accepted:
            try:
                given(decider, *history).when(command).then_rejected()
            except AssertionError as failure:
                return not_yet(f"rule '{rule}' is broken; raise CommandRejected(reason) when it "
                               f"does not hold.\n{failure}")
        problem = _design_problem(decided, command)
        if problem:
            return not_yet(f"rule '{rule}': {problem}")
    return solved(f"all {len(SCENARIOS)} scenarios of the requirement hold, with events that are facts")


class _SetupRejected(Exception):
    """A command the requirement accepts was rejected while building a scenario's history."""


def _history(decider: Decider, commands: list[object]) -> list[object]:
    """The events the learner's decider records for ``commands``, one after the other."""
    events: list[object] = []
    for command in commands:
        try:
            events += decider.decide(command, replay(events, decider))
        except CommandRejected as rejected:
            raise _SetupRejected(f"{_story(events, command)} was rejected ({rejected.reason}), but the "
                                 f"requirement accepts it") from None
    return events


def _story(events: list[object], command: object) -> str:
    return f"given {len(events)} event(s) {[type(e).__name__ for e in events]}, {command}"


def _design_problem(events: list[object], command: object) -> str | None:
    """What is wrong with the events an accepted command decided, if anything."""
    if not events:
        return (f"{command} decided no events: record what happened, or a replay will never know "
                f"(the state is only what the events say)")
    for event in events:
        name = type(event).__name__
        if isinstance(event, type(command)):
            return f"{command} decided the command itself: a command asks, an event tells what happened"
        if not dataclasses.is_dataclass(event):
            return f"{event!r} is not a dataclass: make each event a @dataclass(frozen=True)"
        if not type(event).__dataclass_params__.frozen:
            return f"{name} can be changed after it is made: events are facts, use @dataclass(frozen=True)"
        if not PAST_TENSE.search(name):
            return (f"{name} reads like an order, not a fact: name events in the past tense, for what "
                    f"happened (CardIssued, not IssueCard)")
        if CARD not in dataclasses.asdict(event).values():
            return f"{event} does not say which card it is about: give it the card_id"
    return None
