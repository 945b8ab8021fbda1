"""Notebook 9's exercise: a question the CRUD twin cannot answer: how long did paid orders wait to ship?"""

from __future__ import annotations

from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.storage.store import EventStore

_HOURS = """
    SELECT median(epoch(shipped.recorded_at - started.recorded_at) / 3600)
    FROM events AS shipped
    JOIN events AS started ON started.stream_id = shipped.stream_id AND started.type = $start
    WHERE shipped.type = 'OrderShipped'"""


def _median_hours(store: EventStore, start: str) -> float:
    return float(store.sql(_HOURS, params={"start": start}).fetchall()[0][0])


def check_hours_to_ship(store: EventStore, answer: float | None) -> Verdict:
    """``answer``: the median hours from a payment's recorded_at to the shipment's, over shipped orders."""
    if answer is None:
        return not_yet("answer is still None: set it to the median hours from payment to shipment")
    want = _median_hours(store, "OrderPaid")
    if abs(float(answer) - want) < 0.01:
        return solved(f"half the shipped orders waited less than {want:.1f} hours after payment; "
                      f"the CRUD tables kept no time to answer it from")
    if abs(float(answer) - _median_hours(store, "OrderPlaced")) < 0.01:
        return not_yet(f"{float(answer):.1f} hours is from OrderPlaced to OrderShipped: the clock of this "
                       f"question starts with the payment")
    mean = float(store.sql(_HOURS.replace("median(", "avg("), params={"start": "OrderPaid"}).fetchall()[0][0])
    if abs(float(answer) - mean) < 0.01:
        return not_yet(f"{float(answer):.1f} hours is the mean: the weekend's long waits pull it up. The "
                       f"question asks for the median (DuckDB: median(...))")
    if any(abs(float(answer) - round(want, digits)) < 1e-9 for digits in (0, 1)):
        return not_yet(f"{float(answer)} is the median rounded: give the number unrounded (the check "
                       f"allows 0.01 hours)")
    if abs(float(answer) - want * 60) < 1 or abs(float(answer) - want * 3600) < 60:
        return not_yet(f"{float(answer):.1f} is in minutes or seconds: divide epoch(...) by 3600 for hours")
    return not_yet(f"{float(answer):.1f} hours is not it: per shipped order, recorded_at of OrderShipped "
                   f"minus recorded_at of OrderPaid (when the shop knew of the payment, not occurred_at), "
                   f"in hours; then the median")
