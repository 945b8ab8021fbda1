"""Checks for the exercises of notebooks 14 to 17: each says whether the learner's code is right, and if not,
what the usual mistake costs.

Like the checks of notebook 11 (``eventlab.examples.exercises``), a check never
raises: it returns a ``Verdict`` that shows as one line, so a notebook runs top to
bottom before anyone has solved anything.
"""

from __future__ import annotations

from collections.abc import Callable

from eventlab.application import processes
from eventlab.application.handling import handle
from eventlab.application.outbox import IntegrationEvent
from eventlab.application.shredding import FORGOTTEN, PersonalData
from eventlab.core.decider import replay
from eventlab.errors import EventLabError
from eventlab.examples import checkout, members, orders
from eventlab.examples.exercises import Verdict
from eventlab.lab.determinism import HandClock, seeded_bytes, seeded_ids
from eventlab.storage.keystore import KeyStore
from eventlab.storage.store import EventStore

# -- notebook 14: the compensation of the checkout ----------------------------------------------------


def check_compensation(compensate: Callable[[checkout.Checkout, str], list[processes.Send]]) -> Verdict:
    """``compensate(state, reason)``: what the checkout asks for when the shipment fails after payment."""
    store = EventStore(clock=HandClock(), ids=seeded_ids(14))

    def sends(event: object, state: checkout.Checkout) -> list[processes.Send]:
        if isinstance(event, checkout.CheckoutCompensated):
            return compensate(state, event.reason)
        return checkout.sends(event, state)

    manager = processes.ProcessManager(checkout.checkout, checkout.correlate, sends, checkout.deadline)
    handle(store, orders.decider, "order-3", orders.PlaceOrder("3", 1, ["teapot"]))
    processes.run(store, manager)
    handle(store, checkout.payments, "payment-3", checkout.CapturePayment("3"))
    processes.run(store, manager)
    handle(store, checkout.shipments, "shipment-3", checkout.ReportShipmentFailed("3", "the teapot broke"))
    try:
        processes.run(store, manager)
    except NotImplementedError:
        return Verdict(False, "compensate still raises NotImplementedError: replace it with your code")
    except EventLabError as exc:
        return Verdict(False, f"a command you sent was refused, so nothing of the compensation was written: "
                              f"{exc}")
    payment = replay(store.read("payment-3"), checkout.payments)
    order = replay(store.read("order-3"), orders.decider)
    if payment.status != "Refunded":
        return Verdict(False, f"the payment is {payment.status.lower()}: the customer paid "
                              f"{payment.amount:.2f} EUR and gets neither the teapot nor the money. "
                              f"Refund it (RefundPayment to 'payment-3')")
    if order.status != "Cancelled":
        return Verdict(False, f"the refund went out, but the order still says {order.status}: the shop would "
                              f"report it as a sale. Cancel it too (orders.CancelOrder to 'order-3')")
    return Verdict(True, "the money goes back and the order is cancelled; the log keeps both the payment "
                         "and its refund")


# -- notebook 15: an idempotent consumer --------------------------------------------------------------


def _deliveries() -> list[IntegrationEvent]:
    """What a broker might deliver: order 2's payment twice, order 1's again much later, order 3 cancelled."""
    paid = {n: IntegrationEvent("shop.order-paid.v1", {"order_id": n, "amount": amount}, f"msg-paid-{n}")
            for n, amount in (("1", 14.7), ("2", 39.0), ("3", 9.9))}
    cancelled = IntegrationEvent("shop.order-cancelled.v1", {"order_id": "3"}, "msg-cancelled-3")
    return [paid["1"], paid["2"], paid["2"], paid["3"], cancelled, paid["1"]]


EXPECTED_POINTS = {"1": 14, "2": 39, "3": 0}


def check_idempotent_consumer(consume: Callable[[IntegrationEvent, dict, set], object]) -> Verdict:
    """``consume(message, points, seen)``: a point per whole euro paid, none for a cancelled order, each
    message counted once however often it arrives."""
    points: dict[str, int] = {}
    seen: set[str] = set()
    try:
        for message in _deliveries():
            consume(message, points, seen)
    except NotImplementedError:
        return Verdict(False, "consume still raises NotImplementedError: replace it with your code")
    except Exception as exc:  # the learner's code: show what went wrong instead of stopping the notebook
        return Verdict(False, f"consume raised {type(exc).__name__}: {exc}")
    wrong = {order: (points.get(order), expected) for order, expected in EXPECTED_POINTS.items()
             if points.get(order, 0) != expected}
    if not wrong:
        return Verdict(True, "every message counted once: 14 + 39 + 0 points, whatever was delivered twice")
    if points.get("2", 0) == 78 or points.get("1", 0) == 28:
        return Verdict(False, f"points {points}: a message delivered twice was counted twice. Remember the "
                              f"message_id of each message you apply, and skip one you have seen")
    if points.get("3", 0) == 9:
        return Verdict(False, "order 3 still has its 9 points after it was cancelled: its cancellation "
                              "was skipped as if it had been seen. Two messages about one order are two "
                              "messages: remember message_id, not order_id")
    return Verdict(False, f"points per order should be {EXPECTED_POINTS}, yours are {points}")


# -- notebook 16: a member card that forgets ----------------------------------------------------------


def check_member_card(card: Callable[[EventStore, PersonalData, str], dict]) -> Verdict:
    """``card(store, pii, member_id)``: name, email and points of a member, read from the log."""
    store = EventStore(clock=HandClock(), ids=seeded_ids(16))
    pii = PersonalData(KeyStore(random_bytes=seeded_bytes(16)))
    for member_id, name, email in (("ada", "Ada Lovelace", "ada@example.org"),
                                   ("grace", "Grace Hopper", "grace@example.org")):
        stream = members.stream_id(member_id)
        handle(store, members.decider, stream,
               members.Join(member_id, pii.seal(stream, name), pii.seal(stream, email), "UK"))
        handle(store, members.decider, stream, members.EarnPoints(member_id, 12))
    try:
        before = card(store, pii, "ada")
        pii.forget(members.stream_id("ada"))
        after, other = card(store, pii, "ada"), card(store, pii, "grace")
    except NotImplementedError:
        return Verdict(False, "card still raises NotImplementedError: replace it with your code")
    except Exception as exc:  # the learner's code
        return Verdict(False, f"card raised {type(exc).__name__}: {exc}")
    if not isinstance(before, dict) or before.get("name") != "Ada Lovelace":
        shown = before.get("name") if isinstance(before, dict) else before
        return Verdict(False, f"before forget the card shows the name {shown!r:.60}, not 'Ada Lovelace': "
                              f"reveal the sealed data (pii.reveal_all) before replaying")
    if after.get("name") != FORGOTTEN or after.get("email") != FORGOTTEN:
        return Verdict(False, f"after forget the card still shows {after.get('name')!r} / "
                              f"{after.get('email')!r}: something kept a plaintext copy (a cache, a read "
                              f"model). Read through pii each time, so the key's loss reaches the card")
    if after.get("points") != 12 or other.get("name") != "Grace Hopper":
        return Verdict(False, f"forgetting Ada must not change her points (12) nor Grace's card; got "
                              f"{after} and {other}")
    return Verdict(True, "the card shows Ada until she is forgotten, then '[forgotten]'; her points stay")


# -- notebook 17: event sourcing or not ----------------------------------------------------------------

CASES = {
    "ledger": ("A wallet app's balances, which auditors reconcile transaction by transaction",
               "event sourcing", "the history is the product: every balance is explained by its entries"),
    "settings": ("A user's display preferences (theme, language), read on every page",
                 "crud", "nobody asks how the theme used to be; one row read by key is all it needs"),
    "claims": ("Insurance claims that move through reviews, reconstructed for a dispute years later",
               "event sourcing", "'what did we know when we decided?' is the question a dispute asks"),
    "catalogue": ("A product catalogue edited by two people and searched by thousands",
                  "crud", "current state, full-text search and occasional edits: a table and an index"),
    "telemetry": ("Temperature readings from 10,000 sensors, kept for trend charts",
                  "crud", "readings are independent measurements, not decisions changing an entity's state: "
                          "an append-only time-series table, no aggregates, no replay"),
    "orders": ("A shop's orders, whose support staff ask 'what happened to my order?'",
               "event sourcing", "the audit trail answers support, and new read models come from old events"),
}
"""case -> (description, the better fit, why). Not the only defensible answers: the check says why."""


def check_fit(answers: dict[str, str]) -> Verdict:
    """``answers``: case -> "event sourcing" or "crud", for every case of :data:`CASES`."""
    if not isinstance(answers, dict):
        return Verdict(False, f"answers must be a dict of case -> 'event sourcing' or 'crud', "
                              f"got {answers!r:.60}")
    unknown = sorted(set(answers) - set(CASES))
    missing = sorted(set(CASES) - set(answers))
    if unknown or missing:
        return Verdict(False, f"answer each of {sorted(CASES)} once (missing {missing}, unknown {unknown})")
    labels = {str(v).strip().lower() for v in answers.values()} - {"event sourcing", "crud"}
    if labels:
        return Verdict(False, f"answer 'event sourcing' or 'crud', not {sorted(labels)}")
    wrong = [case for case, answer in answers.items() if answer.strip().lower() != CASES[case][1]]
    if not wrong:
        return Verdict(True, "each fits: history where history is asked for, a plain table elsewhere")
    if all(answers[case].strip().lower() == "event sourcing" for case in CASES):
        return Verdict(False, "event sourcing everywhere pays its costs where nothing needs the history: "
                              + "; ".join(f"{c}: {CASES[c][2]}" for c in wrong))
    return Verdict(False, "; ".join(f"{c} is better as {CASES[c][1]}: {CASES[c][2]}" for c in wrong))
