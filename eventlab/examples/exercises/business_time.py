"""Notebook 4's exercise: a question about when money moved, which only ``occurred_at`` answers."""

from __future__ import annotations

from datetime import date

from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.storage.store import EventStore

TUESDAY = date(2024, 4, 9)
"""The day of the question: Tuesday 9 April 2024 (UTC), "last Tuesday" of the sample shop."""


def _paid_on(store: EventStore, day_of: str) -> float:
    """The euros paid on TUESDAY, counting each payment on the day ``day_of`` (SQL) says."""
    return float(store.sql(f"""SELECT coalesce(sum((data ->> 'amount')::DOUBLE), 0) FROM events
                                WHERE type = 'OrderPaid' AND ({day_of})::DATE = $day""",
                           params={"day": TUESDAY}).fetchall()[0][0])


def check_paid_on_tuesday(store: EventStore, answer: float | None) -> Verdict:
    """``answer``: the euros customers paid on Tuesday 9 April (the day the money moved), as known now."""
    if answer is None:
        return not_yet("answer is still None: set it to the euros paid on Tuesday 9 April")
    true = _paid_on(store, "coalesce(occurred_at, recorded_at)")
    if abs(float(answer) - true) < 0.005:
        return solved(f"{true:.2f} EUR moved on Tuesday 9 April, late bank transfers included")
    if abs(float(answer) - _paid_on(store, "recorded_at")) < 0.005:
        return not_yet(f"{float(answer):.2f} EUR is what the shop heard of on Tuesday (recorded_at): it "
                       f"counts bank transfers that the bank reported on Tuesday although the money moved "
                       f"days before (and would miss any made on Tuesday and reported later). When the "
                       f"money moved is occurred_at")
    if abs(float(answer) - _paid_on(store, "occurred_at")) < 0.005:
        return not_yet(f"{float(answer):.2f} EUR counts only the payments that have an occurred_at, the "
                       f"bank transfers. The others happened when they were recorded: use "
                       f"coalesce(occurred_at, recorded_at)")
    return not_yet(f"{float(answer):.2f} EUR is not it: add up the OrderPaid amounts whose business "
                   f"time (occurred_at, or recorded_at where there is none) falls on 9 April")
