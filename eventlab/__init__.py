"""eventlab: learn and explore event sourcing on an embedded DuckDB event store.

>>> import eventlab
>>> store = eventlab.EventStore()          # in memory; EventStore("shop.duckdb") for a file
"""

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
)
from eventlab.events import NewEvent, RecordedEvent, event_type
from eventlab.model import Decider, handle, replay
from eventlab.store import EventStore
from eventlab.timetravel import history, state_at, states_at

from eventlab import sample  # isort: skip  (sample data builds on all of the above)

__version__ = "0.1.0"

__all__ = [
    "CommandRejected", "ConcurrencyError", "EventLabError", "EventStore", "InvalidEventError",
    "NewEvent", "NotAnEventStoreError", "RecordedEvent", "SchemaVersionError", "StoreError",
    "StoreLockedError", "UnknownEventTypeError", "event_type",
    "Decider", "handle", "replay", "state_at", "states_at", "history", "sample",
]
