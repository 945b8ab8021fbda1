"""Exercises with checks, one module per idea; each check returns a one-line ``Verdict``.

Notebooks 1 to 10 (and 6b) each practise their idea next to where they teach it;
notebook 11 is the capstone. ``from eventlab.exercises import check_replay``
works for every check. The solutions are in ``notebooks/solutions/``.
"""

from eventlab.examples.exercises.appending import check_open_order
from eventlab.examples.exercises.business_time import check_paid_on_tuesday
from eventlab.examples.exercises.capstone import (
    Account,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    Withdraw,
    check_customer_orders,
    check_decide,
    check_evolve,
    check_handle,
    check_paid_per_day,
    check_status_at,
    check_upcaster,
    customer_orders,
    practice_shop,
)
from eventlab.examples.exercises.consumer import Ledger, check_revenue_consumer
from eventlab.examples.exercises.levels import check_waiting_on_sundays
from eventlab.examples.exercises.loyalty import BuyCoffee, IssueCard, RedeemFreeCoffee, check_loyalty_card
from eventlab.examples.exercises.quick_payers import check_quick_payers
from eventlab.examples.exercises.read_model import check_waiting_orders
from eventlab.examples.exercises.replay import check_replay
from eventlab.examples.exercises.snapshot_policy import check_snapshot_policy
from eventlab.examples.exercises.upcaster_chain import AddressChanged, check_address_upcaster
from eventlab.examples.exercises.verdict import Verdict
from eventlab.examples.exercises.waiting_time import check_hours_to_ship

__all__ = [
    "Account", "AccountOpened", "AddressChanged", "BuyCoffee", "IssueCard", "Ledger", "MoneyDeposited",
    "MoneyWithdrawn", "RedeemFreeCoffee", "Verdict", "Withdraw",
    "check_address_upcaster", "check_customer_orders", "check_decide", "check_evolve", "check_handle",
    "check_hours_to_ship", "check_loyalty_card", "check_open_order", "check_paid_on_tuesday",
    "check_paid_per_day", "check_revenue_consumer", "check_replay", "check_snapshot_policy",
    "check_quick_payers", "check_status_at", "check_upcaster", "check_waiting_on_sundays",
    "check_waiting_orders",
    "customer_orders", "practice_shop",
]
