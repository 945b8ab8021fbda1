"""The read models of the order domain, each built from the log by a projection.

- ``order_summary``: one row per order (status, item count, amount paid, when it
  was placed, paid, shipped or cancelled), plus the view ``customers`` over it:
  what a support desk sees per user (orders, open orders, total spent, last
  activity). Defined twice, in SQL and as Python handlers, which build the same
  table: compare their speed with ``catch_up(..., method="python")``.
- ``daily_revenue``: payments per day and currency.
- ``product_sales``: units and orders per item, over orders paid and not cancelled.
- ``stock_levels``: units on hand, reserved and available per SKU.

Times are business times: when the event happened (``occurred_at``) if the
writer said so, else when it was recorded. Money is ``DECIMAL(18, 2)``, so sums
come out exactly the same however the events are batched. Like the order rules
they read, the definitions assume a valid log: an order is placed first, once,
and its items change only before it is paid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from eventlab.application.projections.core import Projection
from eventlab.core.events import RecordedEvent
from eventlab.examples import orders

ORDER_EVENTS = ("OrderPlaced", "ItemAdded", "ItemRemoved", "OrderPaid", "OrderShipped", "OrderCancelled")
STOCK_EVENTS = ("StockReceived", "StockReserved", "StockReleased")

# --- order summary (and the customers view over it) ---------------------------------------

ORDER_SUMMARY_SETUP = """
CREATE TABLE IF NOT EXISTS order_summary (
    stream_id    VARCHAR        PRIMARY KEY,  -- 'order-<order_id>'
    order_id     VARCHAR        NOT NULL,
    user_id      BIGINT,
    status       VARCHAR        NOT NULL,     -- Placed, Paid, Shipped or Cancelled
    item_count   BIGINT         NOT NULL,
    paid         DECIMAL(18, 2) NOT NULL,     -- the amount paid: the order's total
    currency     VARCHAR,
    placed_at    TIMESTAMPTZ,
    paid_at      TIMESTAMPTZ,
    shipped_at   TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ    NOT NULL,     -- its latest event (business time)
    version      BIGINT         NOT NULL      -- the stream version the row reflects
);
CREATE VIEW IF NOT EXISTS customers AS        -- the support desk's view of each user
SELECT user_id, count(*) AS orders,
       count(*) FILTER (status IN ('Placed', 'Paid')) AS open_orders,         -- not shipped or cancelled
       coalesce(sum(paid) FILTER (status <> 'Cancelled'), 0) AS total_spent,  -- on orders that stand
       max(updated_at) AS last_activity
FROM order_summary GROUP BY user_id;
"""

ORDER_SUMMARY_SQL = """
INSERT OR REPLACE INTO order_summary
WITH placed AS (        -- who placed each order, and with how many items
    SELECT stream_id, arg_max(data ->> 'order_id', position) AS order_id,
           arg_max((data ->> 'user_id')::BIGINT, position) AS user_id,
           arg_max(json_array_length(data, '$.items'), position) AS items
    FROM batch WHERE type = 'OrderPlaced' GROUP BY stream_id
), payments AS (        -- money in (OrderPaid version 1 had no currency: it was euros)
    SELECT stream_id, sum((data ->> 'amount')::DOUBLE::DECIMAL(18, 2)) AS paid,
           arg_max(coalesce(data ->> 'currency', 'EUR'), position) AS currency
    FROM batch WHERE type = 'OrderPaid' GROUP BY stream_id
), changes AS (         -- the rest needs no JSON: the type and the times say it all
    SELECT stream_id,
           arg_max({status_case}, position) FILTER ({status_case} IS NOT NULL) AS status,
           count(*) FILTER (type = 'ItemAdded') - count(*) FILTER (type = 'ItemRemoved') AS items_added,
           arg_max(coalesce(occurred_at, recorded_at), position) FILTER (type = 'OrderPlaced') AS placed_at,
           arg_max(coalesce(occurred_at, recorded_at), position) FILTER (type = 'OrderPaid') AS paid_at,
           arg_max(coalesce(occurred_at, recorded_at), position) FILTER (type = 'OrderShipped') AS shipped_at,
           arg_max(coalesce(occurred_at, recorded_at), position) FILTER (type = 'OrderCancelled')
               AS cancelled_at,
           max(coalesce(occurred_at, recorded_at)) AS updated_at, max(version) AS version
    FROM batch GROUP BY stream_id
)
SELECT c.stream_id, coalesce(p.order_id, o.order_id), coalesce(p.user_id, o.user_id),
       coalesce(c.status, o.status), coalesce(p.items, o.item_count) + c.items_added,
       coalesce(o.paid, 0) + coalesce(m.paid, 0), coalesce(m.currency, o.currency),
       coalesce(c.placed_at, o.placed_at), coalesce(c.paid_at, o.paid_at),
       coalesce(c.shipped_at, o.shipped_at), coalesce(c.cancelled_at, o.cancelled_at),
       greatest(c.updated_at, o.updated_at), c.version
FROM changes c LEFT JOIN placed p USING (stream_id) LEFT JOIN payments m USING (stream_id)
LEFT JOIN order_summary o USING (stream_id)
WHERE coalesce(p.order_id, o.order_id) IS NOT NULL   -- an order exists once it is placed
""".replace("{status_case}", orders.status_case())


def _at(event: RecordedEvent) -> datetime:
    """When the event happened: ``occurred_at`` if the writer knew it, else when it was recorded."""
    return event.occurred_at or event.recorded_at


def _status_after(event: RecordedEvent) -> str:
    """The status this event moves its order to: the shop's one rule, ``orders.STATUS_AFTER``."""
    return orders.STATUS_AFTER[event.type].value


def _update(con: duckdb.DuckDBPyConnection, event: RecordedEvent, changes: str,
            values: list[Any] | None = None) -> None:
    """Change the event's order row: ``changes``, plus its latest activity and version."""
    con.execute(f"""UPDATE order_summary SET {changes}, updated_at = greatest(updated_at, ?), version = ?
                    WHERE stream_id = ?""", [*(values or []), _at(event), event.version, event.stream_id])


def on_order_placed(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    """A new row: the order as it was placed (each event is applied exactly once, so a plain INSERT)."""
    placed = event.event
    con.execute("""INSERT INTO order_summary (stream_id, order_id, user_id, status, item_count,
                                               paid, placed_at, updated_at, version)
                   VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)""",
                [event.stream_id, placed.order_id, placed.user_id, _status_after(event), len(placed.items),
                 _at(event), _at(event), event.version])


def on_item_added(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    _update(con, event, "item_count = item_count + 1")


def on_item_removed(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    _update(con, event, "item_count = item_count - 1")


def on_order_paid(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    paid = event.event  # upcast: a version 1 event comes with currency "EUR"
    _update(con, event, "status = ?, paid = paid + ?::DOUBLE::DECIMAL(18, 2), currency = ?, paid_at = ?",
            [_status_after(event), paid.amount, paid.currency, _at(event)])


def on_order_shipped(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    _update(con, event, "status = ?, shipped_at = ?", [_status_after(event), _at(event)])


def on_order_cancelled(con: duckdb.DuckDBPyConnection, event: RecordedEvent) -> None:
    _update(con, event, "status = ?, cancelled_at = ?", [_status_after(event), _at(event)])


order_summary = Projection(
    "order_summary", types=ORDER_EVENTS, setup=ORDER_SUMMARY_SETUP, tables=("order_summary", "customers"),
    sql=ORDER_SUMMARY_SQL,
    handlers={"OrderPlaced": on_order_placed, "ItemAdded": on_item_added, "ItemRemoved": on_item_removed,
              "OrderPaid": on_order_paid, "OrderShipped": on_order_shipped,
              "OrderCancelled": on_order_cancelled})
"""One row per order, and the ``customers`` view; SQL by default, Python handlers with method="python"."""

# --- daily revenue ----------------------------------------------------------------------

daily_revenue = Projection(
    "daily_revenue", types=("OrderPaid",), tables=("daily_revenue",),
    setup="""
        CREATE TABLE IF NOT EXISTS daily_revenue (
            day      DATE           NOT NULL,  -- in UTC
            currency VARCHAR        NOT NULL,
            payments BIGINT         NOT NULL,
            revenue  DECIMAL(18, 2) NOT NULL,
            PRIMARY KEY (day, currency)
        )""",
    sql="""
        INSERT OR REPLACE INTO daily_revenue
        SELECT day, currency, coalesce(r.payments, 0) + b.payments, coalesce(r.revenue, 0) + b.revenue
        FROM (SELECT coalesce(occurred_at, recorded_at)::DATE AS day,
                     coalesce(data ->> 'currency', 'EUR') AS currency, count(*) AS payments,
                     sum((data ->> 'amount')::DOUBLE::DECIMAL(18, 2)) AS revenue
              FROM batch GROUP BY ALL) b
        LEFT JOIN daily_revenue r USING (day, currency)""")
"""Payments received per day (UTC) and currency. A cancelled order's payment stays: there are no refunds."""

# --- product sales ------------------------------------------------------------------------

product_sales = Projection(
    "product_sales", types=("OrderPaid", "OrderCancelled"), tables=("product_sales",),
    setup="""
        CREATE TABLE IF NOT EXISTS product_sales (
            item   VARCHAR PRIMARY KEY,
            units  BIGINT  NOT NULL,  -- in orders paid and not cancelled
            orders BIGINT  NOT NULL   -- how many such orders hold it
        )""",
    sql="""
        INSERT OR REPLACE INTO product_sales
        WITH sold AS (      -- +1 for an order paid in this batch, -1 for a paid order cancelled in it
            SELECT stream_id, position, 1 AS sign FROM batch WHERE type = 'OrderPaid'
            UNION ALL
            SELECT stream_id, position, -1 FROM batch b WHERE type = 'OrderCancelled' AND EXISTS (
                SELECT 1 FROM events e WHERE e.stream_id = b.stream_id AND e.type = 'OrderPaid'
                                         AND e.position < b.position)
        ), item_events AS ( -- their items, read back from the log: events never change
            SELECT stream_id, position, type, data FROM events
            WHERE type IN ('OrderPlaced', 'ItemAdded', 'ItemRemoved')
              AND stream_id IN (SELECT stream_id FROM sold)
        ), moves AS (
            SELECT stream_id, position, unnest(json_extract_string(data, '$.items[*]')) AS item, 1 AS units
            FROM item_events WHERE type = 'OrderPlaced'
            UNION ALL
            SELECT stream_id, position, data ->> 'item', CASE type WHEN 'ItemAdded' THEN 1 ELSE -1 END
            FROM item_events WHERE type <> 'OrderPlaced'
        ), lines AS (       -- each sold order's items when it was paid (they cannot change after)
            SELECT s.stream_id, s.sign, m.item, sum(m.units) AS units
            FROM sold s JOIN moves m ON m.stream_id = s.stream_id AND m.position < s.position
            GROUP BY ALL HAVING sum(m.units) > 0
        )
        SELECT item, coalesce(p.units, 0) + c.units, coalesce(p.orders, 0) + c.orders
        FROM (SELECT item, sum(sign * units) AS units, sum(sign) AS orders FROM lines GROUP BY item) c
        LEFT JOIN product_sales p USING (item);
        DELETE FROM product_sales WHERE units = 0;""")
"""Units and orders per item over the orders that are paid (or shipped) and not cancelled."""

# --- stock levels -------------------------------------------------------------------------

stock_levels = Projection(
    "stock_levels", types=STOCK_EVENTS, tables=("stock_levels",),
    setup="""
        CREATE TABLE IF NOT EXISTS stock_levels (
            sku       VARCHAR PRIMARY KEY,
            on_hand   BIGINT  NOT NULL,  -- received into the warehouse
            reserved  BIGINT  NOT NULL,  -- of which promised to orders
            available BIGINT  NOT NULL   -- on_hand - reserved
        )""",
    sql="""
        INSERT OR REPLACE INTO stock_levels
        SELECT sku, on_hand, reserved, on_hand - reserved FROM (
            SELECT sku, coalesce(s.on_hand, 0) + b.received AS on_hand,
                   coalesce(s.reserved, 0) + b.reserved AS reserved
            FROM (SELECT data ->> 'sku' AS sku,
                         sum(CASE WHEN type = 'StockReceived' THEN quantity ELSE 0 END) AS received,
                         sum(CASE type WHEN 'StockReserved' THEN quantity WHEN 'StockReleased' THEN -quantity
                                       ELSE 0 END) AS reserved
                  FROM (SELECT *, (data ->> 'quantity')::BIGINT AS quantity FROM batch) GROUP BY ALL) b
            LEFT JOIN stock_levels s USING (sku))""")
"""Units of each SKU on hand, reserved for orders, and still available."""

ALL = (order_summary, daily_revenue, product_sales, stock_levels)
"""Every read model of the order domain: ``catch_up(store, read_models.ALL)``."""
