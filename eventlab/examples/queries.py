"""Example questions that an event log answers in one SQL query, and a table of current state cannot.

A table of orders says where each order *is*. The log says how it got there,
so questions about paths, timing, changed minds and late news are plain SQL over
``events``. Each query here runs on any store of the order domain (try them on
``eventlab.sample.demo_store()`` or with ``eventlab query NAME``)::

    from eventlab.examples.queries import QUERIES, run_query
    run_query(store, "funnel")
    print(QUERIES["funnel"].sql)

Dates are cut in UTC, so the answers do not depend on the reader's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from eventlab.errors import EventLabError
from eventlab.storage.store import EventStore


@dataclass(frozen=True)
class Query:
    """A named example: what it shows (``description``) and how (``sql``)."""

    name: str
    description: str
    sql: str


QUERIES: dict[str, Query] = {q.name: q for q in [
    Query("funnel", "How many orders reached each step: placed, paid, shipped (and how many were cancelled).",
          """
WITH reached AS (
    SELECT stream_id,
           bool_or(type = 'OrderPaid') AS paid, bool_or(type = 'OrderShipped') AS shipped,
           bool_or(type = 'OrderCancelled') AS cancelled
    FROM events WHERE starts_with(stream_id, 'order-') GROUP BY stream_id
), steps AS (
    SELECT 1 AS step_no, 'placed' AS step, count(*) AS orders FROM reached
    UNION ALL SELECT 2, 'paid', count(*) FILTER (paid) FROM reached
    UNION ALL SELECT 3, 'shipped', count(*) FILTER (shipped) FROM reached
    UNION ALL SELECT 4, 'cancelled', count(*) FILTER (cancelled) FROM reached
)
SELECT step, orders, round(100 * orders / first(orders ORDER BY step_no) OVER (), 1) AS percent_of_placed
FROM steps ORDER BY step_no"""),

    Query("time_to_payment", "How long customers took from placing an order to paying it, in "
          "business time (occurred_at when known: a late bank transfer counts from when the money moved).",
          """
WITH moments AS (
    SELECT stream_id,
           min(coalesce(occurred_at, recorded_at)) FILTER (type = 'OrderPlaced') AS placed_at,
           min(coalesce(occurred_at, recorded_at)) FILTER (type = 'OrderPaid') AS paid_at
    FROM events WHERE type IN ('OrderPlaced', 'OrderPaid') GROUP BY stream_id
), waits AS (
    SELECT epoch(paid_at - placed_at) / 60 AS minutes FROM moments WHERE paid_at IS NOT NULL
)
SELECT CASE WHEN minutes < 15 THEN '1. under 15 minutes' WHEN minutes < 180 THEN '2. 15 minutes to 3 hours'
            WHEN minutes < 1440 THEN '3. 3 to 24 hours' ELSE '4. over a day' END AS waited,
       count(*) AS orders, round(median(minutes), 1) AS median_minutes
FROM waits GROUP BY waited ORDER BY waited"""),

    Query("abandoned_carts", "Per week of placement: orders neither paid nor cancelled although placed "
          "more than two days before the newest event, and what share they are of the week's orders "
          "that old (younger ones cannot count as abandoned yet).",
          """
WITH orders AS (
    SELECT stream_id, min(recorded_at) AS placed_at,
           bool_or(type IN ('OrderPaid', 'OrderCancelled')) AS closed
    FROM events WHERE starts_with(stream_id, 'order-') GROUP BY stream_id
), cutoff AS (
    SELECT max(recorded_at) - INTERVAL 2 DAY AS moment FROM events
)
SELECT CAST(date_trunc('week', timezone('UTC', placed_at)) AS DATE) AS week_of,
       count(*) AS placed,
       count(*) FILTER (placed_at < moment) AS old_enough,
       count(*) FILTER (NOT closed AND placed_at < moment) AS abandoned,
       round(100 * abandoned / nullif(old_enough, 0), 1) AS percent_abandoned
FROM orders, cutoff GROUP BY week_of ORDER BY week_of"""),

    Query("items_removed_before_payment", "Per SKU: how often it went into a cart and how often it was "
          "taken out again before payment. A table of current carts would have forgotten every removal.",
          """
WITH put_in AS (
    SELECT unnest(json_extract_string(data, '$.items[*]')) AS sku FROM events WHERE type = 'OrderPlaced'
    UNION ALL SELECT data ->> 'item' FROM events WHERE type = 'ItemAdded'
), taken_out AS (
    SELECT data ->> 'item' AS sku, count(*) AS removed FROM events WHERE type = 'ItemRemoved' GROUP BY sku
)
SELECT sku, count(*) AS put_in_cart, coalesce(any_value(removed), 0) AS removed,
       round(100 * coalesce(any_value(removed), 0) / count(*), 1) AS percent_removed
FROM put_in LEFT JOIN taken_out USING (sku) GROUP BY sku ORDER BY removed DESC, sku"""),

    Query("revenue_known_then_vs_now", "Revenue per day of payment, as known at the end of that day "
          "(recorded_at) versus as known now: late bank transfers make the past change after the fact.",
          """
WITH payments AS (
    SELECT CAST(timezone('UTC', coalesce(occurred_at, recorded_at)) AS DATE) AS day, recorded_at,
           (data ->> 'amount')::DOUBLE AS amount
    FROM events WHERE type = 'OrderPaid'
)
SELECT day,
       round(coalesce(sum(amount) FILTER (recorded_at < timezone('UTC', (day + 1)::TIMESTAMP)), 0), 2)
           AS known_that_day,
       round(sum(amount), 2) AS known_now,
       round(known_now - known_that_day, 2) AS reported_later
FROM payments GROUP BY day ORDER BY day"""),

    Query("orders_by_hour", "Orders placed per hour of the day (UTC): the shop's daily rhythm.",
          """
SELECT hour(timezone('UTC', recorded_at)) AS hour, count(*) AS orders,
       repeat('#', CAST(40 * count(*) / max(count(*)) OVER () AS INTEGER)) AS chart
FROM events WHERE type = 'OrderPlaced' GROUP BY hour ORDER BY hour"""),

    Query("stock", "Per SKU: units received, reserved for orders, released again, and available now.",
          """
SELECT data ->> 'sku' AS sku,
       coalesce(sum((data ->> 'quantity')::BIGINT) FILTER (type = 'StockReceived'), 0)::BIGINT AS received,
       coalesce(sum((data ->> 'quantity')::BIGINT) FILTER (type = 'StockReserved'), 0)::BIGINT AS reserved,
       coalesce(sum((data ->> 'quantity')::BIGINT) FILTER (type = 'StockReleased'), 0)::BIGINT AS released,
       received - reserved + released AS available
FROM events WHERE starts_with(stream_id, 'stock-') GROUP BY sku ORDER BY sku"""),
]}
"""Every example query by name."""


def run_query(store: EventStore, name: str) -> pd.DataFrame:
    """Run the example query ``name`` on ``store`` and return its table."""
    if name not in QUERIES:
        raise EventLabError(f"no example query named {name!r}; the queries are: {', '.join(QUERIES)}")
    return store.sql(QUERIES[name].sql).df()
