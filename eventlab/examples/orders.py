"""The order domain of the course: commands, events, state and the rules between them.

An order lives in the stream ``order-<order_id>``. Commands are requests
(``PayOrder``: "please record a payment"); events are facts (``OrderPaid``:
"a payment was recorded"). ``decide`` is where the business rules sit: it turns a
command into events, or rejects it with a reason. ``evolve`` never rejects,
because an event in the log has already happened.

Stock is a second, separate entity (streams ``stock-<sku>``) with its own
decider; ``place_order_reserving_stock`` shows how one business action can
touch several streams at once, all or nothing, inside a unit of work.

>>> from eventlab import replay
>>> state = replay([OrderPlaced("123", 1, ["a", "b"]), ItemAdded("123", "c"),
...                 OrderPaid("123", 100)], decider)
>>> state.items, state.paid, state.status
(['a', 'b', 'c'], 100, <OrderStatus.PAID: 'Paid'>)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn

from eventlab.application.handling import handle
from eventlab.core.decider import Decider, Summary
from eventlab.core.events import RecordedEvent, event_type, registered_class
from eventlab.core.upcasters import upcaster
from eventlab.errors import CommandRejected

if TYPE_CHECKING:
    from eventlab.storage.store import EventStore

# --- Orders: commands (what someone asks for) ------------------------------------


@dataclass(frozen=True)
class PlaceOrder:
    """Ask to open a new order for a user with some items (item names, e.g. SKUs)."""

    order_id: str
    user_id: int
    items: list[str]


@dataclass(frozen=True)
class AddItem:
    """Ask to add one item to an order that is not yet paid."""

    order_id: str
    item: str


@dataclass(frozen=True)
class RemoveItem:
    """Ask to remove one occurrence of an item from an order that is not yet paid."""

    order_id: str
    item: str


@dataclass(frozen=True)
class PayOrder:
    """Ask to record a payment of ``amount`` (in ``currency``) for an order."""

    order_id: str
    amount: float
    currency: str = "EUR"


@dataclass(frozen=True)
class ShipOrder:
    """Ask to ship a paid order."""

    order_id: str


@dataclass(frozen=True)
class CancelOrder:
    """Ask to cancel an order that has not been shipped yet."""

    order_id: str
    reason: str = ""


# --- Orders: events (what happened; stored under these stable type names) --------


@event_type("OrderPlaced", color="#1f77b4")  # blue
@dataclass(frozen=True)
class OrderPlaced:
    """An order was opened by ``user_id`` with these items."""

    order_id: str
    user_id: int
    items: list[str]


@event_type("ItemAdded", color="#17becf")  # cyan
@dataclass(frozen=True)
class ItemAdded:
    """One item was added to the order."""

    order_id: str
    item: str


@event_type("ItemRemoved", color="#e377c2")  # pink
@dataclass(frozen=True)
class ItemRemoved:
    """One occurrence of an item was removed from the order."""

    order_id: str
    item: str


@event_type("OrderPaid", version=2, color="#2ca02c")  # green
@dataclass(frozen=True)
class OrderPaid:
    """A payment of ``amount`` in ``currency`` was recorded.

    Version 2: the first shop knew only euros, so version 1 had no currency;
    ``_paid_in_euros`` upgrades those old events as they are read.
    """

    order_id: str
    amount: float
    currency: str = "EUR"


@upcaster("OrderPaid", from_version=1)
def _paid_in_euros(data: dict) -> dict:
    """OrderPaid v1 -> v2: every payment before currencies existed was in euros."""
    return {**data, "currency": "EUR"}


@event_type("OrderShipped", color="#9467bd")  # purple
@dataclass(frozen=True)
class OrderShipped:
    """The order left the warehouse."""

    order_id: str


@event_type("OrderCancelled", color="#d62728")  # red
@dataclass(frozen=True)
class OrderCancelled:
    """The order was cancelled, for the reason given."""

    order_id: str
    reason: str


# --- Orders: state ------------------------------------------------------------------


class OrderStatus(StrEnum):
    """Where an order is in its life. A string enum, so ``status == "Paid"`` is True."""

    NEW = "New"  # nothing has happened yet: the state before OrderPlaced
    PLACED = "Placed"
    PAID = "Paid"
    SHIPPED = "Shipped"
    CANCELLED = "Cancelled"

    def __repr__(self) -> str:
        return repr(self.value)  # reads as status='Paid' inside an OrderState


@dataclass(frozen=True)
class OrderState:
    """What we know about one order after replaying its events.

    ``items`` is a list in the order the items were added (the same item may
    appear more than once); ``paid`` is the total amount paid.
    """

    order_id: str | None = None
    user_id: int | None = None
    items: list[str] = field(default_factory=list)
    paid: float = 0.0
    status: OrderStatus = OrderStatus.NEW


STATUS_AFTER: dict[str, OrderStatus] = {
    "OrderPlaced": OrderStatus.PLACED, "OrderPaid": OrderStatus.PAID,
    "OrderShipped": OrderStatus.SHIPPED, "OrderCancelled": OrderStatus.CANCELLED,
}
"""The order status rule, written once: the event types that move an order to a status (the other
order events leave it as it was). ``fold`` applies it to objects, ``STATE_SQL`` and the read
models to rows, the pictures to a whole log at once."""

_STATUS_BY_CLASS = {registered_class(type_): status for type_, status in STATUS_AFTER.items()}


def stream_id(order_id: str) -> str:
    """The stream that holds one order's events: ``"order-<order_id>"``."""
    return f"order-{order_id}"


def evolve(state: OrderState, event: object) -> OrderState:
    """The order after one more event. Never rejects: the event already happened.

    It returns a new state instead of changing the old one, so every
    intermediate state of a replay stays valid (time travel relies on that).
    Events of other types leave the state as it was, so new event types can be
    added to the log without breaking this code.
    """
    return fold(state, (event,))


def fold(state: OrderState, events: Iterable[object]) -> OrderState:
    """The order after many events: exactly ``evolve`` applied to each, in one pass.

    ``evolve`` alone would copy the items list at every event, which makes a
    100,000-event stream cost 100,000 copies; folding a run of events builds one
    list. The input state is never changed, so the fold stays pure.
    """
    order_id, user_id, items, paid, status = (
        state.order_id, state.user_id, list(state.items), state.paid, state.status)
    for event in events:
        match event:  # the most frequent event first: this loop is the hot path of every replay
            case ItemAdded():  # a bare class pattern tests half as long as ItemAdded(item=item)
                items.append(event.item)
            case OrderPlaced(order_id=placed_id, user_id=placed_by, items=placed_items):
                order_id, user_id, items, paid = placed_id, placed_by, list(placed_items), 0.0
            case ItemRemoved(item=item) if item in items:
                items.remove(item)  # the oldest occurrence goes first
            case OrderPaid(amount=amount):
                paid += float(amount)
        status = _STATUS_BY_CLASS.get(type(event), status)
    return OrderState(order_id, user_id, items, paid, status)


def decide(command: object, state: OrderState) -> list[object]:
    """The events a command causes on this order, or ``CommandRejected`` saying which rule it breaks."""
    match command:
        case PlaceOrder(order_id, user_id, items):
            if state.status is not OrderStatus.NEW:
                _reject(command, f"order {order_id} already exists (its status is {state.status}); "
                                 f"an order can be placed only once, so use a new order id")
            return [OrderPlaced(order_id, user_id, list(items))]
        case AddItem(order_id, item):
            _require_unpaid(command, state, f"item {item!r} cannot be added")
            return [ItemAdded(order_id, item)]
        case RemoveItem(order_id, item):
            _require_unpaid(command, state, f"item {item!r} cannot be removed")
            if item not in state.items:
                _reject(command, f"item {item!r} is not in order {order_id} "
                                 f"(it holds {state.items}); there is nothing to remove")
            return [ItemRemoved(order_id, item)]
        case PayOrder(order_id, amount):
            _require_placed(command, state)
            if state.status is OrderStatus.CANCELLED:
                _reject(command, f"order {order_id} is cancelled; a cancelled order cannot be paid")
            if state.status is not OrderStatus.PLACED:
                _reject(command, f"order {order_id} is already paid; it cannot be paid twice")
            if not state.items:
                _reject(command, f"order {order_id} has no items; add an item before paying")
            if not amount > 0:
                _reject(command, f"a payment must be a positive amount, got {amount!r} "
                                 f"for order {order_id}")
            return [OrderPaid(order_id, amount, command.currency)]
        case ShipOrder(order_id):
            _require_placed(command, state)
            if state.status is OrderStatus.PLACED:
                _reject(command, f"order {order_id} is not paid yet; pay it before shipping")
            if state.status is OrderStatus.SHIPPED:
                _reject(command, f"order {order_id} is already shipped; it cannot be shipped twice")
            if state.status is OrderStatus.CANCELLED:
                _reject(command, f"order {order_id} is cancelled; a cancelled order cannot be shipped")
            return [OrderShipped(order_id)]
        case CancelOrder(order_id, reason):
            _require_placed(command, state)
            if state.status is OrderStatus.SHIPPED:
                _reject(command, f"order {order_id} is already shipped; a shipped order cannot "
                                 f"be cancelled")
            if state.status is OrderStatus.CANCELLED:
                _reject(command, f"order {order_id} is already cancelled; it cannot be cancelled twice")
            return [OrderCancelled(order_id, reason)]
    _reject(command, f"the orders decider does not know the command {command!r}")


def _require_placed(command: AddItem | RemoveItem | PayOrder | ShipOrder | CancelOrder,
                    state: OrderState) -> None:
    """Reject commands on an order that does not exist, or that were sent to another order's stream."""
    if state.status is OrderStatus.NEW:
        _reject(command, f"order {command.order_id} has not been placed; place it before "
                         f"sending {type(command).__name__}")
    if command.order_id != state.order_id:
        _reject(command, f"{type(command).__name__} is for order {command.order_id}, but this "
                         f"stream holds order {state.order_id}; send it to "
                         f"{stream_id(command.order_id)!r}")


def _require_unpaid(command: AddItem | RemoveItem, state: OrderState, what: str) -> None:
    """Items can change only while the order is placed and not yet paid."""
    _require_placed(command, state)
    if state.status is not OrderStatus.PLACED:
        _reject(command, f"order {command.order_id} is already {state.status.lower()}; {what} "
                         f"(items can change only before payment)")


def _reject(command: object, reason: str) -> NoReturn:
    raise CommandRejected(reason, command)


def status_case(type_column: str = "type", indent: int = 0) -> str:
    """``STATUS_AFTER`` as an SQL CASE: the status an event in ``type_column`` moves an order to, or NULL.

    Two WHENs to a line, the next lines indented by ``indent`` spaces, so that it reads well in a query.
    """
    whens = [f"WHEN '{type_}' THEN '{status}'" for type_, status in STATUS_AFTER.items()]
    lines = [" ".join(whens[i:i + 2]) for i in range(0, len(whens), 2)]
    return f"CASE {type_column} " + ("\n" + " " * (indent + len(f"CASE {type_column} "))).join(lines) + " END"


def _quoted_list(names: Iterable[str], indent: int) -> str:
    """``'a', 'b', 'c'``, three to a line, the next lines indented by ``indent`` spaces."""
    quoted = [f"'{name}'" for name in names]
    return (",\n" + " " * indent).join(", ".join(quoted[i:i + 3]) for i in range(0, len(quoted), 3))


STATE_SQL = """
WITH orders AS (               -- one pass over every order's events: all that most orders need
    SELECT stream_id,
           arg_max(type, position) FILTER (type IN ({status_types})) AS last_status,
           arg_max(data, position) FILTER (type = 'OrderPlaced') AS placed,
           list({'position': position, 'item': CASE type WHEN 'ItemAdded' THEN data ->> 'item' END})
               FILTER (type = 'ItemAdded') AS added,
           sum(CASE type WHEN 'OrderPaid' THEN (data ->> 'amount')::DOUBLE END) AS paid
    FROM stream_events GROUP BY stream_id
), redone AS (                 -- the few orders whose items are not just placed + added: an item was
    SELECT DISTINCT stream_id FROM stream_events      -- removed, or the order was placed after events
    WHERE type = 'ItemRemoved' OR (type = 'OrderPlaced' AND version > 1)
), fresh AS (                  -- their events since their last placement, which starts the order afresh
    SELECT * FROM (SELECT stream_id, position, type, data,
                          max(position) FILTER (type = 'OrderPlaced') OVER (PARTITION BY stream_id)
                              AS placed_at
                   FROM stream_events WHERE stream_id IN (SELECT stream_id FROM redone))
    WHERE position >= coalesce(placed_at, 0)
), changes AS (                -- every occurrence of an item put in or taken out, in the order it happened
    SELECT stream_id, position, type, unnest(generate_series(1, len(items))) AS idx, unnest(items) AS item
    FROM (SELECT stream_id, position, type,
                 CASE type WHEN 'OrderPlaced' THEN json_extract_string(data, '$.items[*]')
                           ELSE [data ->> 'item'] END AS items
          FROM fresh WHERE type IN ('OrderPlaced', 'ItemAdded', 'ItemRemoved'))
), counted AS (                -- per item: +1 for each put in, -1 for each taken out, added up in order,
    SELECT *, sum(CASE type WHEN 'ItemRemoved' THEN -1 ELSE 1 END) OVER earlier AS running,
              count(*) FILTER (type <> 'ItemRemoved') OVER later AS newer  -- and how many were put in since
    FROM changes
    WINDOW earlier AS (PARTITION BY stream_id, item ORDER BY position, idx),
           later AS (PARTITION BY stream_id, item ORDER BY position DESC, idx DESC)
), kept AS (                   -- a removal takes the oldest occurrence, so the newest `remaining` stay
    SELECT stream_id, list(item ORDER BY position, idx) AS items
    FROM (SELECT *, last(running) OVER whole     -- a removal that finds none does nothing: the count
                    - least(0, min(running) OVER whole) AS remaining        -- never went below its dip
          FROM counted WINDOW whole AS (PARTITION BY stream_id, item ORDER BY position, idx
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
    WHERE type <> 'ItemRemoved' AND newer <= remaining
    GROUP BY stream_id
), redone_states AS (
    SELECT stream_id, coalesce(k.items, []::VARCHAR[]) AS items, p.paid
    FROM redone LEFT JOIN kept k USING (stream_id)
         LEFT JOIN (SELECT stream_id, sum((data ->> 'amount')::DOUBLE) AS paid
                    FROM fresh WHERE type = 'OrderPaid' GROUP BY stream_id) p USING (stream_id)
)
SELECT o.stream_id, o.fields.order_id, o.fields.user_id,
       CASE WHEN r.stream_id IS NULL   -- placed items, then the added ones in the order they came
            THEN coalesce(o.fields.items, [])
                 || coalesce(list_transform(list_sort(o.added), lambda e: e.item), [])
            ELSE r.items END AS items,
       coalesce(CASE WHEN r.stream_id IS NULL THEN o.paid ELSE r.paid END, 0) AS paid,
       coalesce({status_case},
                '{initial_status}') AS status
FROM (SELECT *, from_json(placed, '{"order_id": "VARCHAR", "user_id": "BIGINT", "items": ["VARCHAR"]}')
                    AS fields
      FROM orders) o
     LEFT JOIN redone_states r USING (stream_id)
""".replace("{status_types}", _quoted_list(STATUS_AFTER, 52)).replace(
    "{status_case}", status_case("o.last_status", 16)).replace("{initial_status}", OrderStatus.NEW)
"""The order state of every stream in one vectorized DuckDB query: exactly what ``fold`` gives.

It reads ``stream_events`` (the events of the order streams up to the point in
time asked for); ``eventlab.states_at`` supplies it. One pass over the events
gives every order its status, what it was placed with, the items added (in the
order they came) and what was paid, each part reading only the JSON it needs.
That is the whole state of nearly every order. The few others (an item was
removed, or the order was placed again or after other events) take a general
path over their events since the last placement: every occurrence of an item
put in, of which, as ``list.remove`` takes the oldest, the newest stay.
"""

SUMMARY = Summary(by="status", levels=tuple(OrderStatus), total="paid", total_label="Revenue",
                  set_by=dict(STATUS_AFTER), total_from={"OrderPaid": "amount"})
"""How the pictures and the time slider sum up the shop: orders by status, and the revenue."""

decider = Decider(initial_state=OrderState(), evolve=evolve, decide=decide,
                  name="orders", category="order", state_sql=STATE_SQL, fold=fold, summary=SUMMARY)
"""The order rules as a Decider: ``eventlab.handle(store, orders.decider, stream_id("123"), cmd)``."""


# --- Stock: a separate entity per SKU ---------------------------------------------


@dataclass(frozen=True)
class ReceiveStock:
    """Ask to record that ``quantity`` units of ``sku`` arrived in the warehouse."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock:
    """Ask to hold ``quantity`` units of ``sku`` for an order."""

    sku: str
    quantity: int
    order_id: str


@dataclass(frozen=True)
class ReleaseStock:
    """Ask to give back ``quantity`` reserved units of ``sku`` (e.g. the order was cancelled)."""

    sku: str
    quantity: int
    order_id: str


@event_type("StockReceived", color="#bcbd22")  # olive
@dataclass(frozen=True)
class StockReceived:
    """``quantity`` units of ``sku`` arrived."""

    sku: str
    quantity: int


@event_type("StockReserved", color="#ff7f0e")  # orange
@dataclass(frozen=True)
class StockReserved:
    """``quantity`` units of ``sku`` were set aside for ``order_id``."""

    sku: str
    quantity: int
    order_id: str


@event_type("StockReleased", color="#8c564b")  # brown
@dataclass(frozen=True)
class StockReleased:
    """``quantity`` units of ``sku`` reserved for ``order_id`` became available again."""

    sku: str
    quantity: int
    order_id: str


@dataclass(frozen=True)
class StockState:
    """Units of one SKU: ``on_hand`` in the warehouse, of which ``reserved`` are promised to orders."""

    sku: str | None = None
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        """Units that can still be promised: on hand minus reserved."""
        return self.on_hand - self.reserved


def stock_stream_id(sku: str) -> str:
    """The stream that holds one SKU's stock events: ``"stock-<sku>"``."""
    return f"stock-{sku}"


def evolve_stock(state: StockState, event: object) -> StockState:
    """The stock of one SKU after one more event."""
    match event:
        case StockReceived(sku=sku, quantity=quantity):
            return replace(state, sku=sku, on_hand=state.on_hand + quantity)
        case StockReserved(sku=sku, quantity=quantity):
            return replace(state, sku=sku, reserved=state.reserved + quantity)
        case StockReleased(sku=sku, quantity=quantity):
            return replace(state, sku=sku, reserved=state.reserved - quantity)
    return state


def decide_stock(command: object, state: StockState) -> list[object]:
    """The events a stock command causes, or ``CommandRejected``: never over-promise stock."""
    match command:
        case ReceiveStock(sku, quantity):
            _require_positive(command)
            return [StockReceived(sku, quantity)]
        case ReserveStock(sku, quantity, order_id):
            _require_positive(command)
            if quantity > state.available:
                _reject(command, f"not enough stock of {sku} for order {order_id}: wanted "
                                 f"{quantity}, available {state.available}")
            return [StockReserved(sku, quantity, order_id)]
        case ReleaseStock(sku, quantity, order_id):
            _require_positive(command)
            if quantity > state.reserved:
                _reject(command, f"cannot release {quantity} of {sku} for order {order_id}: "
                                 f"only {state.reserved} reserved")
            return [StockReleased(sku, quantity, order_id)]
    _reject(command, f"the stock decider does not know the command {command!r}")


def _require_positive(command: ReceiveStock | ReserveStock | ReleaseStock) -> None:
    if not isinstance(command.quantity, int) or command.quantity <= 0:
        _reject(command, f"a stock quantity must be a positive whole number, got "
                         f"{command.quantity!r} for {command.sku}")


stock_decider = Decider(initial_state=StockState(), evolve=evolve_stock, decide=decide_stock,
                        name="stock", category="stock")
"""The stock rules of one SKU as a Decider, for streams ``"stock-<sku>"``."""


def place_order_reserving_stock(
    store: EventStore, command: PlaceOrder, *, metadata: dict | None = None
) -> list[RecordedEvent]:
    """Place an order and reserve stock for each of its SKUs, all or nothing.

    One business action, several streams: ``OrderPlaced`` goes to the order's
    stream and one ``StockReserved`` per SKU to each ``stock-<sku>`` stream. Each
    stream keeps its own rules (its decider); the unit of work makes them commit
    together. If any SKU lacks stock, its ``CommandRejected`` (naming the SKU)
    propagates, the unit of work rolls back, and nothing at all is written.
    """
    with store.unit_of_work():
        recorded = handle(store, decider, stream_id(command.order_id), command, metadata=metadata)
        for sku, quantity in sorted(Counter(command.items).items()):
            reserve = ReserveStock(sku, quantity, command.order_id)
            recorded += handle(store, stock_decider, stock_stream_id(sku), reserve, metadata=metadata)
    return recorded
