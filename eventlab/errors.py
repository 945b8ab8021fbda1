"""One hierarchy of errors, so ``except eventlab.EventLabError`` catches them all.

Every message says what was wrong (with the offending value) and what to do instead.
"""

from __future__ import annotations


def shown(value: object, limit: int | None = None) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters; never fails itself
    (Python refuses to write an int of more than 4300 digits as text)."""
    try:
        text = repr(value)
    except ValueError:
        text = f"<{type(value).__name__} too long to show>"
    return text if limit is None else text[:limit]


class EventLabError(Exception):
    """Base class of every error eventlab raises on purpose."""


class InvalidEventError(EventLabError, ValueError):
    """An event, stream id, type, payload or timestamp that cannot be stored as given."""


class UsageError(EventLabError, ValueError):
    """An argument that is not what the function takes (a method name, a bound, a decider...).

    For arguments that are not events; events that cannot be stored raise ``InvalidEventError``.
    """


class ConcurrencyError(EventLabError):
    """The stream moved on since it was read: the expected version does not match.

    Nothing was written. Reload the stream, decide again, and retry.
    """

    def __init__(self, stream_id: str, expected: object, actual: int):
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, but the append expected "
            f"{shown(expected, 80)}; nothing was written. Read the stream again, decide on its "
            f"current state and retry (eventlab.handle does this for you)."
        )


class CommandRejected(EventLabError):
    """A command broke a business rule; ``reason`` says which, in words a learner can read."""

    def __init__(self, reason: str, command: object = None):
        self.reason = reason
        self.command = command
        super().__init__(reason)


class StoreError(EventLabError):
    """A store file that cannot be opened or used as asked (locked, missing, not a store...)."""


class StoreLockedError(StoreError):
    """Another process holds the store file open: for writing, or (when this one would write) at all."""


class NotAnEventStoreError(StoreError):
    """The file is not an eventlab store (or not a DuckDB file at all)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer eventlab whose schema this version cannot read."""


class UnknownEventTypeError(EventLabError):
    """An event whose type (or schema version) no registered class or upcaster can read."""
