"""The stored events of an application built with the eventsourcing library, read from its SQLite file."""

from __future__ import annotations

import decimal
import os

import pytest

import eventlab
from eventlab.cli import main

pytest.importorskip("eventsourcing")
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402


class Account(Aggregate):
    """A bank account of the library's own kind: its events are the library's, not eventlab's."""

    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = decimal.Decimal("0")

    @event("Deposited")
    def deposit(self, amount: decimal.Decimal) -> None:
        self.balance += amount

    @event("Closed")
    def close(self) -> None:
        self.closed = True


@pytest.fixture
def bank(tmp_path, monkeypatch):
    """Three accounts saved by an eventsourcing Application in a SQLite file."""
    path = tmp_path / "bank.sqlite"
    monkeypatch.setitem(os.environ, "PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setitem(os.environ, "SQLITE_DBNAME", str(path))
    app = Application()
    accounts = []
    for owner in ("ann", "bob", "chen"):
        account = Account(owner)
        account.deposit(decimal.Decimal("12.50"))
        app.save(account)
        accounts.append(account)
    accounts[1].deposit(decimal.Decimal("7"))
    accounts[1].close()
    app.save(accounts[1])
    app.close()
    return path, accounts


def test_an_eventsourcing_store_is_read_with_the_library_s_own_recorder_and_transcoder(bank):
    path, accounts = bank
    frame = eventlab.sources.eventsourcing(path)
    assert len(frame) == 8
    store = eventlab.EventStore()
    store.import_events(frame)
    assert store.verify().ok
    bob = store.read(f"account-{accounts[1].id}")
    assert [(e.version, e.type) for e in bob] == [(1, "Account.Opened"), (2, "Account.Deposited"),
                                                  (3, "Account.Deposited"), (4, "Account.Closed")]
    assert bob[0].data["owner"] == "bob" and bob[1].data == {"amount": "12.50"}
    assert bob[-1].recorded_at == accounts[1].modified_on
    assert bob[0].metadata["topic"].endswith(":Account.Opened")
    again = store.import_events(eventlab.sources.eventsourcing(path))
    assert (again.imported, again.skipped) == (0, 8)
    table = eventlab.states_at(store, eventlab.latest_values("account"))
    assert table.set_index("stream_id").loc[f"account-{accounts[1].id}", "last_type"] == "Account.Closed"


def test_the_cli_loads_it_with_format(bank, tmp_path):
    path, _ = bank
    db = tmp_path / "bank.duckdb"
    assert main(["load", str(path), "--format", "eventsourcing", "--db", str(db)]) == 0
    with eventlab.EventStore(db, read_only=True) as store:
        assert len(store.streams("account-")) == 3


def test_what_is_not_such_a_store_is_refused(tmp_path):
    with pytest.raises(eventlab.InvalidEventError, match="no file"):
        eventlab.sources.eventsourcing(tmp_path / "missing.sqlite")
    with pytest.raises(eventlab.UsageError, match="PostgreSQL"):
        eventlab.sources.eventsourcing("postgresql://user@localhost/bank")
