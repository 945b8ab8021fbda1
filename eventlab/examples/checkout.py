"""Checkout: an order is paid by a payment service and shipped by a warehouse, steered by a process manager.

Three aggregates, each with its own streams and rules:

- the shop's **order** (``eventlab.examples.orders``, streams ``order-<id>``);
- a **payment** at a payment provider (``payment-<id>``): requested, then captured
  or declined by the provider, refunded or cancelled on request;
- a **shipment** at the warehouse (``shipment-<id>``): requested, then dispatched,
  or failed (a parcel cannot be packed).

The **checkout process** (``checkout-<id>``) follows their domain events and
asks for the next step. The happy path: order placed → payment requested →
captured → order paid, shipment requested → dispatched → order shipped. Two
ways off it: no payment within :data:`PAYMENT_WINDOW` (the *timeout*: cancel the
payment and the order), and a shipment that fails after the money was taken
(the *compensation*: refund, then cancel the order).

>>> from eventlab.testing import given
>>> given(payments, PaymentRequested("7", 14.5)).when(RefundPayment("7", "no stock")).then_rejected(
...     "not captured")
CommandRejected('payment 7 is requested, not captured; only a captured payment can be refunded')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from eventlab.application.processes import ProcessManager, Send, Timeout
from eventlab.core.decider import Decider, Summary
from eventlab.core.events import RecordedEvent, event_type
from eventlab.errors import CommandRejected
from eventlab.examples import orders
from eventlab.examples.sample import CATALOGUE

PAYMENT_WINDOW = timedelta(minutes=30)
"""How long the process waits for the payment provider before it gives up."""

# --- the payment provider's aggregate ------------------------------------------------


@dataclass(frozen=True)
class RequestPayment:
    order_id: str
    amount: float


@dataclass(frozen=True)
class CapturePayment:
    """The provider reports the money taken from the customer's card."""

    order_id: str


@dataclass(frozen=True)
class DeclinePayment:
    order_id: str
    reason: str


@dataclass(frozen=True)
class RefundPayment:
    order_id: str
    reason: str


@dataclass(frozen=True)
class CancelPayment:
    order_id: str
    reason: str


@event_type("PaymentRequested", color="#9edae5")
@dataclass(frozen=True)
class PaymentRequested:
    order_id: str
    amount: float


@event_type("PaymentCaptured", color="#74c476")
@dataclass(frozen=True)
class PaymentCaptured:
    order_id: str
    amount: float


@event_type("PaymentDeclined", color="#ff9896")
@dataclass(frozen=True)
class PaymentDeclined:
    order_id: str
    reason: str


@event_type("PaymentRefunded", color="#ce6dbd")
@dataclass(frozen=True)
class PaymentRefunded:
    order_id: str
    amount: float
    reason: str


@event_type("PaymentCancelled", color="#bdbdbd")
@dataclass(frozen=True)
class PaymentCancelled:
    order_id: str
    reason: str


@dataclass(frozen=True)
class Payment:
    """A payment's state: its amount and where it stands ("New" before any event)."""

    order_id: str = ""
    amount: float = 0.0
    status: str = "New"


def evolve_payment(state: Payment, event: object) -> Payment:
    match event:
        case PaymentRequested(order_id, amount):
            return Payment(order_id, amount, "Requested")
        case PaymentCaptured():
            return replace(state, status="Captured")
        case PaymentDeclined():
            return replace(state, status="Declined")
        case PaymentRefunded():
            return replace(state, status="Refunded")
        case PaymentCancelled():
            return replace(state, status="Cancelled")
    return state


def decide_payment(command: object, state: Payment) -> list[object]:
    """The provider's rules: capture or decline only what was requested, refund only what was captured."""
    match command:
        case RequestPayment(order_id, amount):
            _require(state.status == "New", command, f"payment {order_id} was requested already")
            return [PaymentRequested(order_id, amount)]
        case CapturePayment(order_id):
            _require_status(state, "Requested", command, "captured")
            return [PaymentCaptured(order_id, state.amount)]
        case DeclinePayment(order_id, reason):
            _require_status(state, "Requested", command, "declined")
            return [PaymentDeclined(order_id, reason)]
        case RefundPayment(order_id, reason):
            _require(state.status == "Captured", command,
                     f"payment {order_id} is {state.status.lower()}, not captured; only a captured "
                     f"payment can be refunded")
            return [PaymentRefunded(order_id, state.amount, reason)]
        case CancelPayment(order_id, reason):
            _require_status(state, "Requested", command, "cancelled")
            return [PaymentCancelled(order_id, reason)]
    raise CommandRejected(f"the payments decider does not know the command {command!r}", command)


payments = Decider(Payment(), evolve_payment, decide_payment, name="payments", category="payment",
                   summary=Summary(by="status"))

# --- the warehouse's aggregate ----------------------------------------------------------


@dataclass(frozen=True)
class RequestShipment:
    order_id: str
    items: list[str]


@dataclass(frozen=True)
class DispatchShipment:
    """The warehouse reports the parcel handed to the courier."""

    order_id: str


@dataclass(frozen=True)
class ReportShipmentFailed:
    order_id: str
    reason: str


@event_type("ShipmentRequested", color="#c5b0d5")
@dataclass(frozen=True)
class ShipmentRequested:
    order_id: str
    items: list[str]


@event_type("ShipmentDispatched", color="#756bb1")
@dataclass(frozen=True)
class ShipmentDispatched:
    order_id: str


@event_type("ShipmentFailed", color="#ad494a")
@dataclass(frozen=True)
class ShipmentFailed:
    order_id: str
    reason: str


@dataclass(frozen=True)
class Shipment:
    order_id: str = ""
    items: tuple[str, ...] = ()
    status: str = "New"


def evolve_shipment(state: Shipment, event: object) -> Shipment:
    match event:
        case ShipmentRequested(order_id, items):
            return Shipment(order_id, tuple(items), "Requested")
        case ShipmentDispatched():
            return replace(state, status="Dispatched")
        case ShipmentFailed():
            return replace(state, status="Failed")
    return state


def decide_shipment(command: object, state: Shipment) -> list[object]:
    match command:
        case RequestShipment(order_id, items):
            _require(state.status == "New", command, f"shipment {order_id} was requested already")
            return [ShipmentRequested(order_id, list(items))]
        case DispatchShipment(order_id):
            _require_status(state, "Requested", command, "dispatched")
            return [ShipmentDispatched(order_id)]
        case ReportShipmentFailed(order_id, reason):
            _require_status(state, "Requested", command, "reported failed")
            return [ShipmentFailed(order_id, reason)]
    raise CommandRejected(f"the shipments decider does not know the command {command!r}", command)


shipments = Decider(Shipment(), evolve_shipment, decide_shipment, name="shipments", category="shipment",
                    summary=Summary(by="status"))


def _require(condition: bool, command: object, reason: str) -> None:
    if not condition:
        raise CommandRejected(reason, command)


def _require_status(state: Payment | Shipment, status: str, command: object, what: str) -> None:
    kind = "payment" if isinstance(state, Payment) else "shipment"
    _require(state.status == status, command,
             f"{kind} {command.order_id} is {state.status.lower()}, not {status.lower()}; "
             f"only a {status.lower()} {kind} can be {what}")

# --- the checkout process: its own events, state and rules -----------------------------------


@event_type("CheckoutStarted", color="#dbdb8d")
@dataclass(frozen=True)
class CheckoutStarted:
    """The process began for a placed order: it asks for ``amount`` and waits until ``pay_by``."""

    order_id: str
    items: list[str]
    amount: float
    pay_by: str  # ISO 8601, UTC


@event_type("CheckoutPaid", color="#8ca252")
@dataclass(frozen=True)
class CheckoutPaid:
    order_id: str
    amount: float


@event_type("CheckoutCompleted", color="#4a5d23")
@dataclass(frozen=True)
class CheckoutCompleted:
    order_id: str


@event_type("CheckoutTimedOut", color="#ffbb78")
@dataclass(frozen=True)
class CheckoutTimedOut:
    order_id: str
    waited_until: str  # ISO 8601, UTC


@event_type("CheckoutCancelled", color="#fd8d3c")
@dataclass(frozen=True)
class CheckoutCancelled:
    order_id: str
    reason: str


@event_type("CheckoutCompensated", color="#a55194")
@dataclass(frozen=True)
class CheckoutCompensated:
    """A step failed after the money was taken: refund it and cancel the order."""

    order_id: str
    amount: float
    reason: str


STATUSES = ("AwaitingPayment", "AwaitingShipment", "Completed", "TimedOut", "Cancelled", "Compensated")


@dataclass(frozen=True)
class Checkout:
    """Where one order's checkout stands; ``pay_by`` is its deadline while it awaits payment."""

    order_id: str = ""
    items: tuple[str, ...] = ()
    amount: float = 0.0
    status: str = "New"
    pay_by: datetime | None = None


def evolve_checkout(state: Checkout, event: object) -> Checkout:
    match event:
        case CheckoutStarted(order_id, items, amount, pay_by):
            return Checkout(order_id, tuple(items), amount, "AwaitingPayment", datetime.fromisoformat(pay_by))
        case CheckoutPaid():
            return replace(state, status="AwaitingShipment", pay_by=None)
        case CheckoutCompleted():
            return replace(state, status="Completed")
        case CheckoutTimedOut():
            return replace(state, status="TimedOut", pay_by=None)
        case CheckoutCancelled(order_id=order_id):  # perhaps its first event: an order it could not price
            return replace(state, order_id=order_id, status="Cancelled", pay_by=None)
        case CheckoutCompensated():
            return replace(state, status="Compensated")
    return state


def decide_checkout(trigger: RecordedEvent | Timeout, state: Checkout) -> list[object]:
    """What the process records when a domain event (or its deadline) reaches it.

    A trigger that does not fit the state (a second delivery, a payment captured
    after the process gave up) decides nothing: delivering an event twice is harmless.
    """
    if isinstance(trigger, Timeout):
        if state.status == "AwaitingPayment" and trigger.at >= state.pay_by:
            return [CheckoutTimedOut(state.order_id, state.pay_by.isoformat())]
        return []
    match trigger.event, state.status:
        case orders.OrderPlaced(order_id, _, items), "New":
            unpriced = sorted({item for item in items if item not in CATALOGUE})
            if unpriced:
                return [CheckoutCancelled(order_id, f"no price for {', '.join(unpriced)}")]
            amount = round(sum(CATALOGUE[item] for item in items), 2)
            return [CheckoutStarted(order_id, list(items), amount,
                                    (trigger.recorded_at + PAYMENT_WINDOW).isoformat())]
        case PaymentCaptured(order_id, amount), "AwaitingPayment":
            return [CheckoutPaid(order_id, amount)]
        case PaymentDeclined(order_id, reason), "AwaitingPayment":
            return [CheckoutCancelled(order_id, f"payment declined: {reason}")]
        case ShipmentDispatched(order_id), "AwaitingShipment":
            return [CheckoutCompleted(order_id)]
        case ShipmentFailed(order_id, reason), "AwaitingShipment":
            return [CheckoutCompensated(order_id, state.amount, f"shipment failed: {reason}")]
    return []


def sends(event: object, state: Checkout) -> list[Send]:
    """The commands each step of the process asks the other aggregates for."""
    order, payment, shipment = (orders.stream_id(event.order_id), f"payment-{event.order_id}",
                                f"shipment-{event.order_id}")
    match event:
        case CheckoutStarted(order_id, _, amount, _):
            return [Send(payments, payment, RequestPayment(order_id, amount))]
        case CheckoutPaid(order_id, amount):
            return [Send(orders.decider, order, orders.PayOrder(order_id, amount)),
                    Send(shipments, shipment, RequestShipment(order_id, list(state.items)))]
        case CheckoutCompleted(order_id):
            return [Send(orders.decider, order, orders.ShipOrder(order_id))]
        case CheckoutTimedOut(order_id, _):
            return [Send(payments, payment, CancelPayment(order_id, "not captured in time")),
                    Send(orders.decider, order, orders.CancelOrder(order_id, "payment not received in time"))]
        case CheckoutCancelled(order_id, reason):
            return [Send(orders.decider, order, orders.CancelOrder(order_id, reason))]
        case CheckoutCompensated(order_id, _, reason):
            return compensation(state, reason)
    return []


def compensation(state: Checkout, reason: str) -> list[Send]:
    """Undo what the checkout did before the shipment failed: give the money back, then cancel the order.

    The log keeps the payment and the order's ``OrderPaid``; compensating adds new
    facts (``PaymentRefunded``, ``OrderCancelled``) instead of erasing old ones.
    """
    order_id = state.order_id
    return [Send(payments, f"payment-{order_id}", RefundPayment(order_id, reason)),
            Send(orders.decider, orders.stream_id(order_id), orders.CancelOrder(order_id, reason))]


TRIGGERS = ("OrderPlaced", "PaymentCaptured", "PaymentDeclined", "ShipmentDispatched", "ShipmentFailed")
"""The domain events the checkout process follows."""


def correlate(recorded: RecordedEvent) -> str | None:
    """Every event the process follows carries the order id: that is the process id."""
    return recorded.data["order_id"] if recorded.type in TRIGGERS else None


def deadline(state: Checkout) -> datetime | None:
    return state.pay_by if state.status == "AwaitingPayment" else None


checkout = Decider(Checkout(), evolve_checkout, decide_checkout, name="checkout", category="checkout",
                   summary=Summary(by="status", levels=STATUSES))

process = ProcessManager(checkout, correlate, sends, deadline)
"""The checkout process manager: ``eventlab.application.processes.run(store, process)``."""
