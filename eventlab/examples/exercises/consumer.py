"""Notebook 6b's exercise: an idempotent consumer, for a queue that delivers at least once.

A message queue (or a subscription after a crash) may hand the same event over
twice: it cannot know whether the consumer finished before it died. Exactly
once *delivery* is not on offer; exactly once *effect* is, when the consumer
remembers which events it has applied, in the same place as the effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from eventlab.core.events import RecordedEvent
from eventlab.examples.exercises.capstone import practice_shop
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten


@dataclass
class Ledger:
    """The accounting service's own database: revenue per day, and whatever else you keep in ``seen``."""

    revenue: dict[date, float] = field(default_factory=dict)
    seen: set = field(default_factory=set)


def deliveries(events: list[RecordedEvent]) -> list[RecordedEvent]:
    """At-least-once delivery: every fourth message comes twice, and after a crash six come again."""
    delivered: list[RecordedEvent] = []
    for n, event in enumerate(events, 1):
        delivered.append(event)
        if n % 4 == 0:
            delivered.append(event)  # the acknowledgement was lost: the queue sends it again
        if n == 12:
            delivered += events[6:12]  # the consumer crashed before its checkpoint: redelivered
    return delivered


def check_revenue_consumer(consume: Callable[[Ledger, RecordedEvent], None]) -> Verdict:
    """``consume(ledger, event)`` adds each OrderPaid's amount to its day, once, however often it arrives."""
    payments = practice_shop().read_all(types=["OrderPaid"])
    want: dict[date, float] = {}
    for event in payments:
        day = event.recorded_at.date()
        want[day] = round(want.get(day, 0) + float(event.data["amount"]), 2)
    ledger = Ledger()
    counted: dict[object, int] = {}
    for event in deliveries(payments):
        try:
            consume(ledger, event)
        except NotImplementedError:
            return unwritten("consume")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"consume fails on the payment of {event.stream_id}: "
                           f"{type(error).__name__}: {error}")
        counted[event.event_id] = counted.get(event.event_id, 0) + 1
    got = {day: round(float(amount), 2) for day, amount in ledger.revenue.items()}
    if got == want:
        return solved(f"{len(payments)} payments delivered {len(deliveries(payments))} times, "
                      f"each counted once")
    day = next(d for d in sorted(set(want) | set(got)) if want.get(d, 0) != got.get(d, 0))
    story = f"the revenue of {day} should be {want.get(day, 0):.2f}, your ledger says {got.get(day, 0):.2f}"
    if got.get(day, 0) > want.get(day, 0):
        return not_yet(f"{story}: a payment delivered twice was counted twice. Remember each event's "
                       f"event_id in ledger.seen when you apply it, and skip the ones already there")
    return not_yet(f"{story}: a payment was skipped. Two different payments can share a day, an amount "
                   f"or an order number in another shop; only the event_id tells one event from another")
