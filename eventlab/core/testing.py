"""Given / when / then: business rules tested as facts in, facts out.

>>> from eventlab.testing import given
>>> from eventlab.examples.orders import OrderPaid, OrderPlaced, PayOrder, decider
>>> given(decider, OrderPlaced("123", 1, ["a"])).when(PayOrder("123", 100)).then(OrderPaid("123", 100))
>>> given(decider, OrderPlaced("123", 1, ["a"]), OrderPaid("123", 100)) \\
...     .when(PayOrder("123", 100)).then_rejected("cannot be paid twice")
CommandRejected('order 123 is already paid; it cannot be paid twice')

A test of a decider needs no database and no mocks: *given* past events,
*when* a command arrives, *then* these events (or a rejection) come out. That is
the same shape as the business rule itself, so the tests read like the rules.
A failing check raises ``AssertionError`` with a line-by-line diff of the
expected and the actual events.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventlab.core.decider import Decider, replay
from eventlab.errors import CommandRejected


def given(decider: Decider, *events: object) -> Given:
    """Start a scenario: the stream already holds ``events`` (none means a new stream)."""
    return Given(decider, events)


@dataclass(frozen=True)
class Given:
    """A decider and the past events of one stream; ``.when(command)`` says what happens next."""

    decider: Decider
    events: Sequence[object]

    def when(self, command: object) -> When:
        """The command that arrives after the given events."""
        return When(self, command)


@dataclass(frozen=True)
class When:
    """A scenario ready to check: ``.then(*events)`` or ``.then_rejected(match)``."""

    given: Given
    command: object

    def then(self, *expected: object) -> None:
        """Assert that the command decides exactly ``expected``, in order (none: no events)."""
        __tracebackhide__ = True
        try:
            actual = self._decide()
        except CommandRejected as exc:
            raise self._failure("then expected:", [*_lines(expected),
                                                   f"but the command was rejected: {exc.reason}"]) from None
        if actual != list(expected):
            diff = difflib.ndiff([repr(e) for e in expected], [repr(e) for e in actual])
            raise self._failure("then expected (-) but got (+):", ["  " + line.rstrip() for line in diff])

    def then_rejected(self, match: str | re.Pattern[str] | None = None) -> CommandRejected:
        """Assert that the command is rejected; returns the ``CommandRejected`` to look at.

        ``match`` checks the reason: a string must occur in it, a compiled
        ``re.Pattern`` must be found in it (``re.search``).
        """
        __tracebackhide__ = True
        try:
            actual = self._decide()
        except CommandRejected as exc:
            if isinstance(match, re.Pattern):
                matched = match.search(exc.reason) is not None
            else:
                matched = match is None or match in exc.reason
            if matched:
                return exc
            raise self._failure(f"then expected a rejection matching {match!r}, but the reason was:",
                                ["  " + exc.reason]) from None
        raise self._failure("then expected a rejection, but the command decided:", _lines(actual))

    def _decide(self) -> list[Any]:
        decider = self.given.decider
        return list(decider.decide(self.command, replay(self.given.events, decider)))

    def _failure(self, heading: str, lines: list[str]) -> AssertionError:
        story = ["given:", *_lines(self.given.events), "when:", *_lines([self.command]), heading, *lines]
        return AssertionError("\n".join(story))


def _lines(items: Sequence[object]) -> list[str]:
    """One indented repr per line, or "(no events)" when there are none."""
    return [f"  {item!r}" for item in items] or ["  (no events)"]
