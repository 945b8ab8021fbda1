"""Notebook 10's exercise: find the abandoned carts in SQL, with a window function or ``arg_max``."""

from __future__ import annotations

from eventlab.application.timetravel import states_at
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.storage.store import EventStore


def abandoned_carts(store: EventStore) -> set[str]:
    """The truth, by replay: orders still Placed, their last event over two days before the log's last."""
    states = states_at(store, orders.decider)
    placed = set(states.loc[states["status"] == "Placed", "stream_id"])
    quiet = store.sql("""
        SELECT stream_id FROM events WHERE stream_id LIKE 'order-%' GROUP BY stream_id
        HAVING max(recorded_at) < (SELECT max(recorded_at) FROM events) - INTERVAL 2 DAY""").df()
    return placed & set(quiet["stream_id"])


def check_abandoned_carts(store: EventStore, query: str | None) -> Verdict:
    """``query``: SQL giving a ``stream_id`` column, one row per abandoned cart."""
    if not query:
        return not_yet("query is still None: set it to your SQL")
    try:
        rows = store.sql(query).df()
    except Exception as error:  # a learner's SQL may fail in any way DuckDB can
        return not_yet(f"the query fails: {str(error).splitlines()[0]}")
    if "stream_id" not in rows.columns:
        return not_yet(f"the query should give a stream_id column; it gives {list(rows.columns)}")
    got, want = list(rows["stream_id"]), abandoned_carts(store)
    if len(got) != len(set(got)):
        return not_yet("some carts come more than once: one row per stream "
                       "(GROUP BY, or a window and a filter)")
    missing, extra = sorted(want - set(got)), sorted(set(got) - want)
    if not missing and not extra:
        return solved(f"{len(want)} abandoned carts, the same as a replay of every order finds")
    if missing:
        last = store.sql("SELECT type FROM events WHERE stream_id = $s ORDER BY version DESC LIMIT 1",
                         params={"s": missing[0]}).fetchall()[0][0]
        return not_yet(f"{len(missing)} abandoned cart(s) missing, e.g. {missing[0]}, whose last event is "
                       f"{last}: a cart is abandoned whatever its last event was, as long as it was never "
                       f"paid or cancelled")
    status = states_at(store, orders.decider).set_index("stream_id").loc[extra[0], "status"]
    return not_yet(f"{len(extra)} stream(s) that are not abandoned carts, e.g. {extra[0]} ({status}): "
                   + ("only orders never paid nor cancelled count" if status != "Placed" else
                      "its last event is less than two days before the end of the log"))
