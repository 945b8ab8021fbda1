"""eventlab: learn and explore event sourcing on an embedded DuckDB event store.

>>> import eventlab
>>> store = eventlab.EventStore()          # in memory; EventStore("shop.duckdb") for a file

The names here are the everyday API. The modules behind them sit in layers
(``eventlab.core``, ``.storage``, ``.application``, ``.lab``, ``.examples``; see
ARCHITECTURE.md), and the ones users import have short names:
``eventlab.widgets``, ``eventlab.sample``, ``eventlab.snapshots``... (see
``eventlab.shortnames``). Nothing of the example shop is loaded until asked for.
"""

from eventlab import shortnames
from eventlab.application.handling import handle
from eventlab.application.latest_values import latest_values
from eventlab.application.timetravel import history, state_at, states_at
from eventlab.core.decider import Decider, Summary, replay
from eventlab.core.events import NewEvent, RecordedEvent, event_type
from eventlab.errors import (
    CommandRejected,
    ConcurrencyError,
    EventLabError,
    InvalidEventError,
    NotAnEventStoreError,
    SchemaVersionError,
    StoreError,
    StoreLockedError,
    UnknownEventTypeError,
    UsageError,
)
from eventlab.storage.store import EventStore

shortnames.install()

__version__ = "0.1.0"

__all__ = [
    "CommandRejected", "ConcurrencyError", "EventLabError", "EventStore", "InvalidEventError",
    "NewEvent", "NotAnEventStoreError", "RecordedEvent", "SchemaVersionError", "StoreError",
    "StoreLockedError", "UnknownEventTypeError", "UsageError", "event_type",
    "Decider", "Summary", "handle", "replay", "state_at", "states_at", "history", "latest_values",
]


def __getattr__(name: str) -> object:
    """``eventlab.sample``, ``eventlab.widgets``...: a layer's module under its short name, on first use."""
    return shortnames.module(name)
