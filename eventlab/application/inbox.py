"""Idempotent consumers: exactly-once *effects* from at-least-once *delivery*.

A relay that crashes between sending and marking sends again; a broker
redelivers what was not acknowledged in time. No network can promise to deliver
a message exactly once, so the consumer makes a repeat harmless: it records the
id of every message it processed, *in the same transaction as the effect*, and
skips an id it has seen. Recording it in a separate step would reopen the gap
(effect done, crash, id not recorded: the effect happens twice).

>>> inbox = Inbox(loyalty_store, "loyalty")                             # doctest: +SKIP
>>> inbox.receive(message, award_points)    # True: applied
>>> inbox.receive(message, award_points)    # False: seen already, nothing done
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from eventlab.application.outbox import IntegrationEvent
from eventlab.core.events import check_name
from eventlab.storage.store import EventStore

Effect = Callable[[duckdb.DuckDBPyConnection, IntegrationEvent], object]

PROCESSED_DDL = """
CREATE TABLE IF NOT EXISTS processed_messages (
    consumer   VARCHAR NOT NULL,   -- who processed it (several consumers may share a database)
    message_id VARCHAR NOT NULL,
    type       VARCHAR NOT NULL,
    PRIMARY KEY (consumer, message_id)
)"""


class Inbox:
    """The messages one consumer has processed, kept beside its own data."""

    def __init__(self, store: EventStore, consumer: str):
        self.store, self.consumer = store, check_name(consumer, "consumer name")
        with store.connection() as con:
            con.execute(PROCESSED_DDL)

    def receive(self, message: IntegrationEvent, effect: Effect) -> bool:
        """Apply ``effect(con, message)`` unless this message was processed before; True if it was applied.

        The effect runs inside the store's transaction (``con`` writes tables,
        ``store.append`` writes events) and commits with the record of the message
        id. If it raises, neither is kept and a redelivery tries again.
        """
        with self.store.transaction() as con:
            if self.seen(message.message_id, con):
                return False
            effect(con, message)
            con.execute("INSERT INTO processed_messages VALUES (?, ?, ?)",
                        [self.consumer, message.message_id, message.type])
        return True

    def seen(self, message_id: str, con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """Whether this consumer has processed ``message_id``."""
        query = "SELECT count(*) FROM processed_messages WHERE consumer = ? AND message_id = ?"
        if con is not None:
            return con.execute(query, [self.consumer, message_id]).fetchall()[0][0] > 0
        return self.store.rows(query, [self.consumer, message_id])[0][0] > 0

    def processed(self) -> int:
        """How many distinct messages this consumer has processed."""
        return self.store.rows("SELECT count(*) FROM processed_messages WHERE consumer = ?",
                               [self.consumer])[0][0]
