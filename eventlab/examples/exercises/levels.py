"""Notebook 5's exercise: a level, not a flow: how many orders waited for the warehouse each Sunday night."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pandas as pd

from eventlab.application.timetravel import states_at
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.storage.store import EventStore

SUNDAYS = [datetime(2024, 3, 10, tzinfo=timezone.utc) + timedelta(weeks=n) for n in range(6)]
"""The six Sundays of the sample shop: 10 March to 14 April 2024."""


def _paid_at(store: EventStore, moment: datetime) -> int:
    states = states_at(store, orders.decider, as_of=moment)
    return int((states["status"] == "Paid").sum())


def _end_of(day: datetime) -> datetime:
    return day + timedelta(days=1) - timedelta(microseconds=1)


def check_waiting_on_sundays(store: EventStore, answer: Sequence[int] | pd.Series | None
                             ) -> Verdict:
    """``answer``: for each Sunday, the orders paid and not shipped (status Paid) at the end of the day."""
    if answer is None:
        return not_yet("answer is still None: set it to six numbers, one per Sunday")
    got = [int(n) for n in (answer.tolist() if isinstance(answer, pd.Series) else answer)]
    want = [_paid_at(store, _end_of(day)) for day in SUNDAYS]
    if got == want:
        return solved(f"paid and waiting at the end of each Sunday: {want}")
    if len(got) != len(SUNDAYS):
        return not_yet(f"give one number per Sunday ({len(SUNDAYS)} of them, 10 March to 14 April); "
                       f"you gave {len(got)}")
    paid_that_day = [int(store.sql("""SELECT count(*) FROM events
                                       WHERE type = 'OrderPaid' AND recorded_at::DATE = $day""",
                                   params={"day": day.date()}).fetchall()[0][0]) for day in SUNDAYS]
    if got == paid_that_day:
        return not_yet("those are the payments recorded on each Sunday, a flow. The question is about a "
                       "level: the orders in status Paid at the end of the day, however long they had "
                       "been waiting (states_at(..., as_of=...) or viz.counts_over_time)")
    if got == [_paid_at(store, day) for day in SUNDAYS]:
        return not_yet("those are the counts at the start of each Sunday (00:00): as_of includes what was "
                       "recorded by that moment, so the end of Sunday is just before Monday 00:00")
    if got == [int((states_at(store, orders.decider, as_of=_end_of(day), time="occurred")["status"] == "Paid")
                    .sum()) for day in SUNDAYS]:
        return not_yet("those count a late bank transfer from when the money moved (time='occurred'); the "
                       "warehouse can only ship what the shop knows is paid: time as recorded, the default")
    wrong = [day for day, mine, right in zip(SUNDAYS, got, want, strict=True) if mine != right]
    return not_yet(f"{len(wrong)} of the six numbers are not it, the first on Sunday {wrong[0]:%d %B}: count "
                   f"the orders in status Paid as of the end of each Sunday, just before Monday 00:00")
