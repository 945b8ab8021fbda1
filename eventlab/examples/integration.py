"""What the shop tells other systems: its integration events, and a loyalty service that consumes them.

The order aggregate has eight kinds of domain events; the outside world is told
three things, in a contract of their own (:data:`PUBLISHED`): an order was paid,
shipped, or cancelled. Items added and removed while the customer shops stay
inside, and so does a cancellation's free-text reason. The names carry a version
(``.v1``): the domain events may change shape (``OrderPaid`` is at schema
version 2) without breaking anyone who listens.

The loyalty service awards a point per whole euro paid and takes them back when
a paid order is cancelled. Its :func:`award_points` changes a table, so applying
a message twice counts twice, unless the consumer is idempotent
(``eventlab.application.inbox.Inbox``).
"""

from __future__ import annotations

import math

import duckdb

from eventlab.application.outbox import IntegrationEvent
from eventlab.core.events import RecordedEvent

PUBLISHED = {
    "OrderPaid": "shop.order-paid.v1",
    "OrderShipped": "shop.order-shipped.v1",
    "OrderCancelled": "shop.order-cancelled.v1",
}
"""Domain event type -> the integration event that announces it. Other types are not published."""


def translate(recorded: RecordedEvent) -> list[IntegrationEvent]:
    """The integration events announcing one domain event of the shop (none for most)."""
    name = PUBLISHED.get(recorded.type)
    if name is None or not recorded.stream_id.startswith("order-"):
        return []
    data = {"order_id": recorded.data["order_id"], "at": recorded.recorded_at.isoformat()}
    if recorded.type == "OrderPaid":
        event = recorded.event  # upcast: version 1 events had no currency
        data |= {"amount": event.amount, "currency": event.currency}
    return [IntegrationEvent.of(recorded, name, data)]


POINTS_DDL = """
CREATE TABLE IF NOT EXISTS loyalty_points (
    order_id VARCHAR PRIMARY KEY,
    points   INTEGER NOT NULL
)"""


def award_points(con: duckdb.DuckDBPyConnection, message: IntegrationEvent) -> None:
    """The loyalty service's effect: a point per whole euro paid, taken back when the order is cancelled.

    Not idempotent by itself: ``points = points + ...`` applied twice adds twice.
    """
    con.execute(POINTS_DDL)
    order_id = message.data["order_id"]
    if message.type == "shop.order-paid.v1":
        points = math.floor(message.data["amount"])
    elif message.type == "shop.order-cancelled.v1":
        points = -_points_of(con, order_id)
    else:
        return
    con.execute("INSERT INTO loyalty_points VALUES (?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET points = loyalty_points.points + excluded.points",
                [order_id, points])


def _points_of(con: duckdb.DuckDBPyConnection, order_id: str) -> int:
    rows = con.execute("SELECT points FROM loyalty_points WHERE order_id = ?", [order_id]).fetchall()
    return rows[0][0] if rows else 0


def total_points(con: duckdb.DuckDBPyConnection) -> int:
    """All the points the loyalty service holds."""
    con.execute(POINTS_DDL)
    return int(con.execute("SELECT coalesce(sum(points), 0) FROM loyalty_points").fetchall()[0][0])
