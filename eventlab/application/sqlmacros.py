"""Time travel in plain SQL: table macros over the ``events`` table, installed in the store's database.

After ``install_macros(store, orders.decider)`` these work in ``store.sql(...)``, in ``eventlab
sql`` and, for a store file, in the DuckDB command line (``duckdb shop.duckdb``)::

    SELECT * FROM events_as_of(TIMESTAMPTZ '2024-03-10 12:00:00+00')  -- what was recorded by then
    SELECT * FROM events_until(1234)                                  -- the log's first 1234 events
    SELECT * FROM stream_at('order-000123', 2)                        -- a stream's first 2 events
    SELECT * FROM latest_values_as_of('ticket', TIMESTAMPTZ '2024-03-10 12:00:00+00')  -- any category
    SELECT * FROM latest_values_at('ticket', 1234)                    -- ... after position 1234
    SELECT * FROM order_states_as_of(TIMESTAMPTZ '2024-03-10 12:00:00+00')  -- every order, as known then
    SELECT * FROM order_states_at(1234)                               -- every order after position 1234
    SELECT * FROM order_states                                        -- every order now (a view)

A macro is a named, parameterised query that DuckDB expands where it is used,
so the past is one function call away and composes with any SQL around it.
The ``<category>_states_*`` macros wrap the decider's ``state_sql`` (the
vectorized fold of its events) and return exactly what
``eventlab.states_at(store, decider, as_of=... | position=...)`` returns. The
``latest_values_*`` macros need no decider: they are ``eventlab.latest_values``
in SQL, with each stream's data fields as one JSON object in the column ``fields``
(``fields ->> 'status'`` reads one).
"""

from __future__ import annotations

import re

from eventlab.application import latest_values
from eventlab.application.timetravel import state_columns
from eventlab.core.decider import Decider
from eventlab.errors import UsageError
from eventlab.storage.store import EventStore

# Parameter names are unusual on purpose: inside a macro a parameter hides any column of that name.
EVENT_MACROS = {
    "events_as_of": """(as_of_time) AS TABLE
        SELECT * FROM events WHERE recorded_at <= as_of_time ORDER BY position""",
    "events_until": """(until_position) AS TABLE
        SELECT * FROM events WHERE position <= until_position ORDER BY position""",
    "stream_at": """(at_stream_id, at_version) AS TABLE
        SELECT * FROM events WHERE stream_id = at_stream_id AND version <= at_version ORDER BY version""",
}
"""Macro name -> its parameters and body: the log cut at a moment, a position or a stream's version."""

_LATEST = """(of_category, {parameter}) AS TABLE
    WITH stream_events AS (
        SELECT * FROM events WHERE starts_with(stream_id, of_category || '-') AND {condition}
    )
    SELECT * FROM ({state_sql}) ORDER BY stream_id"""

LATEST_VALUES_MACROS = {
    "latest_values_as_of": _LATEST.format(parameter="as_of_time", condition="recorded_at <= as_of_time",
                                          state_sql=latest_values.STATE_SQL),
    "latest_values_at": _LATEST.format(parameter="at_position", condition="position <= at_position",
                                       state_sql=latest_values.STATE_SQL),
}
"""``eventlab.latest_values`` of any category in SQL, as of a moment or after a position."""

_STATES = """({parameter}) AS TABLE
    WITH stream_events AS (
        SELECT * FROM events WHERE starts_with(stream_id, '{prefix}') AND {condition}
    )
    SELECT {columns} FROM ({state_sql}) ORDER BY stream_id"""


def install_macros(store: EventStore, *deciders: Decider, temporary: bool | None = None) -> list[str]:
    """Create the time-travel macros in the store's database; returns the names created.

    The event macros (``events_as_of``, ``events_until``, ``stream_at``) and
    ``latest_values_as_of``/``latest_values_at`` work on any log. Each decider
    given (it needs a ``category`` and a ``state_sql``) adds its whole-system
    macros and a view, named after its category: for the shop,
    ``install_macros(store, orders.decider)`` makes ``order_states_as_of``,
    ``order_states_at`` and ``order_states``. In a writable store file the macros
    are saved with the file (``temporary=False``), so every DuckDB client sees
    them; a read-only store gets them for this connection only (``TEMP``), as it
    cannot save anything.
    """
    temporary = store.read_only if temporary is None else temporary
    kind = "TEMP MACRO" if temporary else "MACRO"
    macros = {**EVENT_MACROS, **LATEST_VALUES_MACROS}
    for decider in deciders:
        macros.update(state_macros(decider))
    for name, definition in macros.items():
        store.sql(f"CREATE OR REPLACE {kind} {name}{definition}")
    views = [f"{decider.category}_states" for decider in deciders]
    for view in views:
        store.sql(f"CREATE OR REPLACE {'TEMP VIEW' if temporary else 'VIEW'} {view} AS "
                  f"SELECT * FROM {view}_as_of('infinity'::TIMESTAMPTZ)")
    return [*macros, *views]


def state_macros(decider: Decider) -> dict[str, str]:
    """The two whole-system macros of a decider: its states as of a moment, and at a position."""
    if decider.state_sql is None or not re.fullmatch(r"[a-z][a-z0-9_]*", decider.category):
        raise UsageError(
            f"decider {decider.name!r} needs a state_sql and a category made of lowercase letters, "
            f"digits and _ (got {decider.category!r}) to get SQL macros")
    columns = ", ".join(f'"{column}"' for column in ["stream_id", *state_columns(decider)])
    parts = {"prefix": f"{decider.category}-", "columns": columns, "state_sql": decider.state_sql}
    return {
        f"{decider.category}_states_as_of": _STATES.format(
            parameter="as_of_time", condition="recorded_at <= as_of_time", **parts),
        f"{decider.category}_states_at": _STATES.format(
            parameter="at_position", condition="position <= at_position", **parts),
    }
