"""The CRUD twin: the same order workflow kept the usual way, in rows updated in place.

``CrudShop`` takes the very commands of ``eventlab.examples.orders`` and checks
them with the very same rules: it loads the order's current row as an
``OrderState`` and asks ``orders.decide``. The events that come back are turned
into INSERTs, UPDATEs and DELETEs, and then thrown away. That last step is the
whole difference: the tables always say what is true *now*, cheaply, and
nothing about how it got there.

The helpers put the two side by side on one workload: :func:`questions` (what
each can answer), :func:`storage` (what each keeps) and :func:`compare_costs`
(what a write and a current-state read cost).
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from eventlab.application.handling import handle
from eventlab.application.timetravel import state_at, states_at
from eventlab.core.moments import utc_now
from eventlab.errors import CommandRejected
from eventlab.examples import orders
from eventlab.storage.store import Clock, EventStore

CRUD_DDL = """
CREATE TABLE IF NOT EXISTS orders (
    order_id      VARCHAR     PRIMARY KEY,
    user_id       BIGINT      NOT NULL,
    status        VARCHAR     NOT NULL,  -- Placed, Paid, Shipped or Cancelled
    paid          DOUBLE      NOT NULL,
    currency      VARCHAR,
    cancel_reason VARCHAR,
    updated_at    TIMESTAMPTZ NOT NULL   -- the only trace of time: the last change
);
CREATE TABLE IF NOT EXISTS order_items (
    order_id VARCHAR NOT NULL,
    line     INTEGER NOT NULL,           -- keeps the items in the order they were added
    item     VARCHAR NOT NULL,
    PRIMARY KEY (order_id, line)
);
"""
_ITEMS = "(SELECT list(item ORDER BY line) FROM order_items i WHERE i.order_id = o.order_id)"
"""An order's items, oldest first, for a query over ``orders o``."""


class CrudShop:
    """Orders in two plain tables, ``orders`` and ``order_items``: ``CrudShop()`` in memory, or a file.

    >>> shop = CrudShop()
    >>> shop.execute(orders.PlaceOrder("123", 1, ["a", "b"]))
    >>> shop.execute(orders.AddItem("123", "c"))
    >>> shop.order("123").items
    ['a', 'b', 'c']
    """

    def __init__(self, path: str | Path | None = None, *, clock: Clock | None = None):
        self.clock = clock or utc_now
        self._con = duckdb.connect(":memory:" if path is None else str(path))
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(CRUD_DDL)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> CrudShop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def execute(self, command: object) -> None:
        """Run one order command: check it against the current rows with the order rules, then update them.

        A command that breaks a rule raises ``CommandRejected`` (the same reason
        as the event-sourced side gives) and changes nothing.
        """
        self._con.execute("BEGIN TRANSACTION")
        try:
            events = orders.decide(command, self.order(command.order_id))
            now = self.clock()
            for event in events:
                self._apply(event, now)
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def order(self, order_id: str) -> orders.OrderState:
        """The current state of one order, read from its rows (the initial state if there is none)."""
        # items by the same parameter, not a correlated subquery: DuckDB would join all of order_items
        rows = self._con.execute(
            "SELECT user_id, paid, status, (SELECT list(item ORDER BY line) FROM order_items "
            "WHERE order_id = $1) FROM orders WHERE order_id = $1", [order_id]).fetchall()
        if not rows:
            return orders.OrderState()
        user_id, paid, status, items = rows[0]
        return orders.OrderState(order_id, user_id, items or [], paid, orders.OrderStatus(status))

    def orders_df(self) -> pd.DataFrame:
        """Every order's current state, in the columns of ``eventlab.states_at(store, orders.decider)``."""
        frame = self._con.execute(f"""
            SELECT 'order-' || order_id AS stream_id, order_id, user_id,
                   coalesce({_ITEMS}, []::VARCHAR[]) AS items, paid, status
            FROM orders o ORDER BY stream_id""").df()
        frame["items"] = frame["items"].map(list)
        return frame

    def sql(self, query: str, params: Sequence | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL on the shop's tables: ``shop.sql("SELECT * FROM orders").df()``."""
        return self._con.sql(query, params=params)

    @classmethod
    def from_store(cls, store: EventStore, path: str | Path | None = None) -> CrudShop:
        """The tables a CRUD application would hold for the orders of ``store``: their current state only."""
        shop = cls(path, clock=store.clock)
        shop._con.register("current", states_at(store, orders.decider))
        shop._con.register("last_change", store.frame("""
            SELECT stream_id, max(recorded_at) AS updated_at,
                   arg_max(coalesce(data ->> 'currency', 'EUR'), position) FILTER (type = 'OrderPaid')
                       AS currency,
                   arg_max(data ->> 'reason', position) FILTER (type = 'OrderCancelled') AS cancel_reason
            FROM events WHERE starts_with(stream_id, 'order-') GROUP BY stream_id"""))
        shop._con.execute("""
            INSERT INTO orders
            SELECT c.order_id, c.user_id, c.status, c.paid, l.currency, l.cancel_reason, l.updated_at
            FROM current c JOIN last_change l USING (stream_id) WHERE c.status <> 'New';
            INSERT INTO order_items
            SELECT order_id, unnest(generate_series(1, len(items))), unnest(items)
            FROM current WHERE status <> 'New'""")
        shop._con.unregister("current")
        shop._con.unregister("last_change")
        return shop

    def _apply(self, event: object, now: datetime) -> None:
        """Turn one decided event into the row changes it stands for (and forget the event)."""
        execute = self._con.execute
        match event:
            case orders.OrderPlaced(order_id, user_id, items):
                execute("INSERT INTO orders VALUES (?, ?, 'Placed', 0, NULL, NULL, ?)",
                        [order_id, user_id, now])
                execute("INSERT INTO order_items SELECT $1, unnest(generate_series(1, len($2))), unnest($2)",
                        [order_id, list(items)])
            case orders.ItemAdded(order_id, item):
                execute("INSERT INTO order_items SELECT $1, coalesce(max(line), 0) + 1, $2 "
                        "FROM order_items WHERE order_id = $1", [order_id, item])
                execute("UPDATE orders SET updated_at = ? WHERE order_id = ?", [now, order_id])
            case orders.ItemRemoved(order_id, item):  # the oldest occurrence goes, as in orders.evolve
                execute("DELETE FROM order_items WHERE order_id = $1 AND line = (SELECT min(line) "
                        "FROM order_items WHERE order_id = $1 AND item = $2)", [order_id, item])
                execute("UPDATE orders SET updated_at = ? WHERE order_id = ?", [now, order_id])
            case orders.OrderPaid(order_id, amount, currency):
                execute("UPDATE orders SET status = 'Paid', paid = paid + ?, currency = ?, updated_at = ? "
                        "WHERE order_id = ?", [amount, currency, now, order_id])
            case orders.OrderShipped(order_id):
                execute("UPDATE orders SET status = 'Shipped', updated_at = ? WHERE order_id = ?",
                        [now, order_id])
            case orders.OrderCancelled(order_id, reason):
                execute("UPDATE orders SET status = 'Cancelled', cancel_reason = ?, updated_at = ? "
                        "WHERE order_id = ?", [reason, now, order_id])


# --- side by side ----------------------------------------------------------------------------

_CANNOT = "cannot:"


def questions(store: EventStore, shop: CrudShop, order_id: str, as_of: datetime) -> pd.DataFrame:
    """What each side can tell about one order: now, at ``as_of``, every change, a vanished item.

    One row per question, with the event-sourced and the CRUD answer. The CRUD
    side answers the first; for the others it honestly says it cannot.
    """
    stream_id = orders.stream_id(order_id)
    events = store.read(stream_id)
    removed = next((e for e in events if e.type == "ItemRemoved"), None)
    crud_now = shop.order(order_id)
    updated = shop.sql("SELECT updated_at FROM orders WHERE order_id = ?", [order_id]).fetchall()
    rows = [
        (f"What is order {order_id} now?", _describe(state_at(store, stream_id, orders.decider)),
         _describe(crud_now)),
        (f"What was it on {as_of:%a %d %b %Y %H:%M}?",
         _describe(state_at(store, stream_id, orders.decider, as_of=as_of)),
         f"{_CANNOT} the rows hold only the current values"),
        ("Every change to it?",
         "; ".join(f"v{e.version} {e.type} {e.recorded_at:%d %b %H:%M}" for e in events) or "none",
         f"{_CANNOT} an UPDATE overwrites; only the last change time is kept"
         + (f" ({updated[0][0]:%d %b %H:%M})" if updated else "")),
        ("Why did an item disappear?",
         f"ItemRemoved {removed.data['item']!r} at version {removed.version}, "
         f"{removed.recorded_at:%d %b %H:%M}, metadata {removed.metadata}" if removed
         else "no item was ever removed from it",
         f"{_CANNOT} the order_items row was deleted"),
    ]
    return pd.DataFrame(rows, columns=["question", "event_sourced", "crud"])


def storage(store: EventStore, shop: CrudShop) -> pd.DataFrame:
    """Rows and bytes each side keeps for the orders (bytes: the tables written as compressed Parquet).

    The rows are written in key order, so the bytes do not depend on the order they were inserted in.
    """
    def crud_rows(query: str) -> list[tuple]:
        return shop._con.execute(query).fetchall()

    with tempfile.TemporaryDirectory() as folder:
        events = _size(store.rows, "SELECT * FROM events WHERE starts_with(stream_id, 'order-') "
                                    "ORDER BY position", Path(folder, "events.parquet"))
        order_rows = _size(crud_rows, "SELECT * FROM orders ORDER BY order_id",
                           Path(folder, "orders.parquet"))
        item_rows = _size(crud_rows, "SELECT * FROM order_items ORDER BY order_id, line",
                          Path(folder, "items.parquet"))
    return pd.DataFrame([("event sourced", "events", *events),
                         ("crud", "orders + order_items", order_rows[0] + item_rows[0],
                          order_rows[1] + item_rows[1])],
                        columns=["side", "tables", "rows", "bytes"])


def compare_costs(store: EventStore, shop: CrudShop, commands: Sequence[object], *, reads: int = 200,
                  seed: int = 0) -> pd.DataFrame:
    """Apply the same order commands to both sides and time a write and a current-state read.

    Returns milliseconds per operation: a command (one commit each; rejected
    ones count too, and both sides reject the same), the state of one random
    order, the state of every order.
    """
    order_ids = sorted({c.order_id for c in commands})
    sample = random.Random(seed).choices(order_ids, k=reads) if order_ids else []
    rows = [
        ("write one command",
         _mean_ms(_accepting_rejections(
             lambda c: handle(store, orders.decider, orders.stream_id(c.order_id), c)), commands),
         _mean_ms(_accepting_rejections(shop.execute), commands)),
        ("read one order now",
         _mean_ms(lambda o: state_at(store, orders.stream_id(o), orders.decider), sample),
         _mean_ms(shop.order, sample)),
        ("read every order now",
         _mean_ms(lambda _: states_at(store, orders.decider), [None]),
         _mean_ms(lambda _: shop.orders_df(), [None])),
    ]
    return pd.DataFrame(rows, columns=["operation", "event_sourced_ms", "crud_ms"])


def _describe(state: orders.OrderState) -> str:
    if state.status == orders.OrderStatus.NEW:
        return "did not exist"
    return f"{state.status}, items {state.items}, paid {state.paid:g}"


def _accepting_rejections(apply: Callable[[object], object]) -> Callable[[object], None]:
    def run(command: object) -> None:
        with contextlib.suppress(CommandRejected):
            apply(command)
    return run


def _mean_ms(operation: Callable[[Any], object], arguments: Sequence) -> float:
    started = time.perf_counter()
    for argument in arguments:
        operation(argument)
    return (time.perf_counter() - started) / max(len(arguments), 1) * 1000


def _size(run: Callable[[str], list[tuple]], query: str, path: Path) -> tuple[int, int]:
    """Rows of ``query``, and the bytes they take written as a zstd-compressed Parquet file."""
    rows = run(f"SELECT count(*) FROM ({query})")[0][0]
    quoted = str(path).replace("'", "''")
    run(f"COPY ({query}) TO '{quoted}' (FORMAT parquet, COMPRESSION zstd)")
    return int(rows), path.stat().st_size
