"""The outbox: integration events leave the system exactly when the domain events they announce commit.

Domain events are the aggregate's own facts, in its own words, free to change
with the model (``ItemAdded``, ``OrderPaid`` v2). *Integration events* are what
other systems are told: few, stable, versioned by name, carrying only what the
outside may know (``shop.order-paid.v1``). A ``translate`` function turns the one
into the other.

Publishing straight to a message broker after the append has a gap: a crash
between the two loses the message, or (publish first) announces a change that
never committed. The outbox closes it: the messages are rows of a table in the
same database, written in the *same transaction* as the events
(:meth:`Outbox.transaction`). A relay then sends the pending rows and marks each
one sent (:meth:`Outbox.relay`). If it crashes after sending and before marking,
the message goes out again: delivery is *at least once*, so consumers must be
idempotent (``eventlab.application.inbox``).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from eventlab.core.events import RecordedEvent, to_json
from eventlab.errors import UsageError
from eventlab.storage.store import EventStore

_NAMESPACE = uuid.UUID("5b0c53a2-5d2e-4c53-9c61-6f7574626f78")


@dataclass(frozen=True)
class IntegrationEvent:
    """A message for other systems. ``message_id`` is stable, so a consumer can tell a repeat."""

    type: str
    data: dict
    message_id: str
    source_position: int = 0

    @classmethod
    def of(cls, recorded: RecordedEvent, type: str, data: dict) -> IntegrationEvent:
        """The integration event ``type`` announcing ``recorded``; its id is derived from the event's id,
        so translating the same domain event again gives the same message."""
        message_id = str(uuid.uuid5(_NAMESPACE, f"{recorded.event_id}/{type}"))
        return cls(type, data, message_id, recorded.position)


Translate = Callable[[RecordedEvent], list[IntegrationEvent]]


class Outbox:
    """A table of integration events waiting to leave, filled in the transaction of the appends.

    >>> box = Outbox(store, translate)                                # doctest: +SKIP
    >>> with box.transaction():
    ...     eventlab.handle(store, orders.decider, "order-7", orders.PayOrder("7", 14.5))
    >>> box.relay(broker.publish)
    1
    """

    def __init__(self, store: EventStore, translate: Translate, *, name: str = "outbox"):
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(f"outbox name {name!r} must be a plain SQL identifier, e.g. 'outbox'")
        self.store, self.translate, self.table = store, translate, name
        with store.connection() as con:
            con.execute(f"""CREATE TABLE IF NOT EXISTS {name} (
                seq             BIGINT  PRIMARY KEY,   -- the order messages leave in
                message_id      VARCHAR NOT NULL UNIQUE,
                type            VARCHAR NOT NULL,
                data            JSON    NOT NULL,
                source_position BIGINT  NOT NULL,      -- the domain event it announces
                attempts        INTEGER NOT NULL DEFAULT 0,
                sent            BOOLEAN NOT NULL DEFAULT false)""")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[EventStore]:
        """Appends made in the block and their integration events commit together, or neither does."""
        with self.store.transaction() as con:
            first = self.store.head_position + 1
            yield self.store
            messages = [m for e in self.store.read_all(from_position=first) for m in self.translate(e)]
            seq = con.execute(f"SELECT coalesce(max(seq), 0) FROM {self.table}").fetchall()[0][0]
            for offset, message in enumerate(messages, start=1):
                con.execute(f"INSERT INTO {self.table} (seq, message_id, type, data, source_position) "
                            f"VALUES (?, ?, ?, ?, ?)",
                            [seq + offset, message.message_id, message.type,
                             to_json(message.data, f"integration event {message.type} data"),
                             message.source_position])

    def relay(self, send: Callable[[IntegrationEvent], object], *, limit: int | None = None) -> int:
        """Send pending messages in order, marking each one sent after ``send`` returns; returns how many.

        If ``send`` raises, the relay stops there and the error goes up: that message
        stays pending (its ``attempts`` counted) and goes out again on the next relay,
        even if the broker had in fact received it.
        """
        sent = 0
        for message in self.pending_messages(limit):
            with self.store.connection() as con:
                con.execute(f"UPDATE {self.table} SET attempts = attempts + 1 WHERE message_id = ?",
                            [message.message_id])
            send(message)
            with self.store.connection() as con:
                con.execute(f"UPDATE {self.table} SET sent = true WHERE message_id = ?", [message.message_id])
            sent += 1
        return sent

    def pending_messages(self, limit: int | None = None) -> list[IntegrationEvent]:
        """The messages not yet sent, oldest first."""
        cap = "" if limit is None else f" LIMIT {int(limit)}"
        rows = self.store.rows(f"SELECT type, data, message_id, source_position FROM {self.table} "
                               f"WHERE NOT sent ORDER BY seq{cap}")
        return [IntegrationEvent(type_, json.loads(data), message_id, position)
                for type_, data, message_id, position in rows]

    def frame(self) -> pd.DataFrame:
        """The whole outbox as a DataFrame, oldest first."""
        return self.store.frame(f"SELECT * FROM {self.table} ORDER BY seq")
