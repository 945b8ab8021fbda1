"""``latest_values``: a decider for any log, with no code: what is known of each stream, field by field.

Point it at a category of streams and every stream becomes one row: how many
events it has, when the first and the last were recorded, the type of the last,
and the latest value of each top-level field its events' data ever carried
(a field keeps its value when later events leave it out). It needs no event
classes, so it is the first thing to try on a log someone else wrote::

    eventlab.states_at(store, eventlab.latest_values("ticket"), as_of=moment)

Its Python ``evolve`` says what it means; its ``state_sql`` computes the same
table in one DuckDB query (a test checks that both agree on random logs).
"""

from __future__ import annotations

from typing import Any

from eventlab.core.decider import Decider
from eventlab.core.events import RecordedEvent

SUMMARY_FIELDS = ("events", "first_at", "last_at", "last_type")
"""The columns every stream gets; data fields follow, sorted by name."""

STATE_SQL = """
WITH streams AS (
    SELECT stream_id, count(*) AS events, min(recorded_at) AS first_at, max(recorded_at) AS last_at,
           arg_max(type, position) AS last_type
    FROM stream_events GROUP BY stream_id
), fields AS (                -- every top-level field of every event's data, with where it was set
    SELECT stream_id, position, unnest(json_keys(data)) AS field, data FROM stream_events
), latest AS (                -- a field named like a summary column is kept as data.<name>
    SELECT stream_id, CASE WHEN field IN ({taken}) THEN 'data.' || field ELSE field END AS field,
           arg_max(data -> field, position) AS value
    FROM fields GROUP BY stream_id, field
)
SELECT s.*, coalesce(l.fields, '{}')::VARCHAR AS fields
FROM streams s LEFT JOIN (SELECT stream_id, json_group_object(field, value) AS fields
                          FROM latest GROUP BY stream_id) l USING (stream_id)
""".replace("{taken}", ", ".join(f"'{name}'" for name in ("stream_id", *SUMMARY_FIELDS)))
"""One row per stream: the summary columns, and ``fields``, a JSON object of each field's latest value."""


def evolve(state: dict[str, Any], event: RecordedEvent) -> dict[str, Any]:
    """One more event: counted, its time and type remembered, its data's fields written over the old."""
    data = event.data if isinstance(event.data, dict) else {}
    known = {name: value for name, value in state.items() if name not in SUMMARY_FIELDS}
    return {"events": state["events"] + 1, "first_at": state["first_at"] or event.recorded_at,
            "last_at": event.recorded_at, "last_type": event.type, **known, **_outside_summary(data)}


def _outside_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Data fields named like a summary column are kept as ``data.<name>``, so neither hides the other."""
    return {f"data.{name}" if name in ("stream_id", *SUMMARY_FIELDS) else name: value
            for name, value in data.items()}


def latest_values(category: str) -> Decider[dict[str, Any]]:
    """A read-only, raw decider for the streams ``<category>-...``: one row per stream, one column per field.

    >>> import eventlab
    >>> store = eventlab.EventStore()
    >>> _ = store.append("ticket-1", [eventlab.NewEvent("Opened", {"title": "printer"}),
    ...                               eventlab.NewEvent("Resolved", {"by": "ann"})])
    >>> tickets = eventlab.states_at(store, latest_values("ticket"))
    >>> tickets[["stream_id", "events", "last_type", "by", "title"]]
      stream_id  events last_type   by    title
    0  ticket-1       2  Resolved  ann  printer
    """
    return Decider(dict.fromkeys(SUMMARY_FIELDS) | {"events": 0}, evolve, None,
                   name=f"latest_values:{category}", category=category, state_sql=STATE_SQL,
                   spread="fields", raw=True)
