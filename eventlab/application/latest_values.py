"""``latest_values``: a decider for any log, with no code: what is known of each stream, field by field.

Point it at a category of streams and every stream becomes one row: how many
events it has, when the first and the last were recorded, the type of the last,
and the latest value of each top-level field its events' data ever carried
(a field keeps its value when later events leave it out). It needs no event
classes, so it is the first thing to try on a log someone else wrote::

    eventlab.states_at(store, eventlab.latest_values("ticket"), as_of=moment)

Its Python ``evolve`` says what it means; its ``state_sql`` computes the same
table in one DuckDB query (a test checks that both agree on random logs).
``states_at`` runs a faster form of that query, :func:`frame_by_field`, which
first asks which fields there are and then parses each event's data once.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eventlab.core import fastpaths
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
           arg_max(data -> ('/' || replace(replace(field, '~', '~0'), '/', '~1')), position) AS value
    FROM fields GROUP BY stream_id, field
)
SELECT s.*, coalesce(l.fields, '{}')::VARCHAR AS fields
FROM streams s LEFT JOIN (SELECT stream_id, json_group_object(field, value) AS fields
                          FROM latest GROUP BY stream_id) l USING (stream_id)
""".replace("{taken}", ", ".join(f"'{name}'" for name in ("stream_id", *SUMMARY_FIELDS)))
"""One row per stream: the summary columns, and ``fields``, a JSON object of each field's latest value.

A field is read with a JSON Pointer (``/name``, ``~`` written ``~0`` and ``/``
``~1``), which names any key: as a plain path, ``''`` or ``'$'`` would read the
whole object."""


FIELD_NAMES_SQL = "SELECT DISTINCT unnest(json_keys(data)) AS field FROM stream_events ORDER BY field"
"""Every top-level field that the events' data carries."""


def fields_sql(fields: list[str]) -> str:
    """STATE_SQL's table with one column of JSON text per field instead of one object (f0, f1, ...).

    ``STATE_SQL`` turns every (event, field) pair into a row and parses the data
    again for each; knowing the fields first, one ``json_extract`` with a list of
    pointers parses each event's data once (the store keeps only JSON objects as
    data), and ``arg_max ... FILTER`` keeps each field's latest value where it was
    set (an explicit JSON ``null`` counts as set).
    """
    pointers = ", ".join("'/{}'".format(name.replace("~", "~0").replace("/", "~1").replace("'", "''"))
                         for name in fields)
    latest = "".join(f", arg_max(v[{i}], position) FILTER (WHERE v[{i}] IS NOT NULL)::VARCHAR AS f{i - 1}"
                     for i in range(1, len(fields) + 1))
    return f"""
        SELECT stream_id, count(*) AS events, min(recorded_at) AS first_at, max(recorded_at) AS last_at,
               arg_max(type, position) AS last_type{latest}
        FROM (SELECT stream_id, position, recorded_at, type, json_extract(data, [{pointers}]) AS v
              FROM stream_events)
        GROUP BY stream_id"""


def frame_by_field(con: duckdb.DuckDBPyConnection, with_stream_events: str, params: list) -> pd.DataFrame:
    """``states_at``'s table for ``latest_values``, the fast way: the table that ``STATE_SQL`` and
    ``spread`` give, sorted by stream_id (a test checks that they agree).

    ``with_stream_events`` is the ``WITH stream_events AS (...)`` clause that cuts
    the log to the category and the point in time.
    """
    fields = [name for (name,) in con.sql(with_stream_events + FIELD_NAMES_SQL, params=params).fetchall()]
    table = con.sql(with_stream_events + fields_sql(fields), params=params).to_arrow_table()
    if not table.num_rows:  # as an empty Python path is: no rows, so no types
        return pd.DataFrame([], columns=["stream_id", *SUMMARY_FIELDS])
    table = table.take(pc.sort_indices(table.column("stream_id")))
    frame = table.select(["stream_id", *SUMMARY_FIELDS]).to_pandas()
    columns = {_outside_summary_name(name): f"f{i}" for i, name in enumerate(fields)}
    for name in sorted(columns):
        frame[name] = _decoded(table.column(columns[name]).combine_chunks())
    return frame


def _decoded(column: pa.Array) -> Any:
    """A column of JSON texts as the values ``json.loads`` gives, NaN where the stream never set the field
    (as pandas fills the keys that some dict rows lack)."""
    present = column.drop_null()
    if len(present) and pc.all(pc.starts_with(present, '"')).as_py() \
            and not pc.any(pc.match_substring(present, "\\")).as_py():
        return pc.utf8_slice_codeunits(column, 1, -1).to_pandas()  # strings with no escapes: the text inside
    whole = pa.ListArray.from_arrays(pa.array([0, len(column)], pa.int32()), column.fill_null("null"))
    with fastpaths.gc_paused():
        values = fastpaths.loads(b"[" + pc.binary_join(whole, ",").cast(pa.binary())[0].as_py() + b"]")
    for row in np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)):
        values[row] = float("nan")
    return values


def evolve(state: dict[str, Any], event: RecordedEvent) -> dict[str, Any]:
    """One more event: counted, its time and type remembered, its data's fields written over the old."""
    data = event.data if isinstance(event.data, dict) else {}
    known = {name: value for name, value in state.items() if name not in SUMMARY_FIELDS}
    return {"events": state["events"] + 1, "first_at": state["first_at"] or event.recorded_at,
            "last_at": event.recorded_at, "last_type": event.type, **known, **_outside_summary(data)}


def _outside_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Data fields named like a summary column are kept as ``data.<name>``, so neither hides the other."""
    return {_outside_summary_name(name): value for name, value in data.items()}


def _outside_summary_name(field: str) -> str:
    return f"data.{field}" if field in ("stream_id", *SUMMARY_FIELDS) else field


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
