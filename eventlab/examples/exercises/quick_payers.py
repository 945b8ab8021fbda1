"""Notebook 10's exercise: orders paid within ten minutes of being placed, in SQL over the log."""

from __future__ import annotations

from datetime import timedelta

from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.storage.store import EventStore

WITHIN = timedelta(minutes=10)


def quick_payers(store: EventStore) -> set[str]:
    """The truth, by walking the log: orders paid (recorded) less than WITHIN after they were placed."""
    placed = {e.stream_id: e.recorded_at for e in store.read_all(types=["OrderPlaced"])}
    return {e.stream_id for e in store.read_all(types=["OrderPaid"])
            if e.recorded_at - placed[e.stream_id] < WITHIN}


def _story(store: EventStore, stream_id: str) -> str:
    rows = store.sql("""SELECT type, strftime(recorded_at, '%H:%M:%S') FROM events
                        WHERE stream_id = $s ORDER BY version""", params={"s": stream_id}).fetchall()
    return ", ".join(f"{kind} {at}" for kind, at in rows)


def check_quick_payers(store: EventStore, query: str | None) -> Verdict:
    """``query``: SQL giving a ``stream_id`` column, one row per order paid within ten minutes of placing."""
    if not query:
        return not_yet("query is still None: set it to your SQL")
    try:
        rows = store.sql(query).df()
    except Exception as error:  # a learner's SQL may fail in any way DuckDB can
        return not_yet(f"the query fails: {str(error).splitlines()[0]}")
    if "stream_id" not in rows.columns:
        return not_yet(f"the query should give a stream_id column; it gives {list(rows.columns)}")
    got, want = list(rows["stream_id"]), quick_payers(store)
    if len(got) != len(set(got)):
        return not_yet("some orders come more than once: one row per stream (DISTINCT, or GROUP BY)")
    missing, extra = sorted(want - set(got)), sorted(set(got) - want)
    if not missing and not extra:
        return solved(f"{len(want)} orders paid within ten minutes, the same as a walk through the log finds")
    late = {e.stream_id for e in store.read_all(types=["OrderPaid"]) if e.occurred_at is not None}
    if extra and set(extra) <= late:
        return not_yet(f"{len(extra)} order(s) too many, all paid by late bank transfer, e.g. {extra[0]}: "
                       f"the question takes both times as recorded (recorded_at), not when the money moved "
                       f"(occurred_at)")
    if extra:
        return not_yet(f"{len(extra)} order(s) too many, e.g. {extra[0]} ({_story(store, extra[0])}): "
                       f"measure "
                       f"from OrderPlaced, not from the event just before the payment (lag() looks one row "
                       f"back; first_value() or a join on OrderPlaced looks at the start)")
    return not_yet(f"{len(missing)} order(s) missing, e.g. {missing[0]} ({_story(store, missing[0])}): "
                   f"less than ten minutes between the two recorded_at times")
