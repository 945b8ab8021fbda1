"""The stored events of an application built with the eventsourcing library, read from its SQLite file."""

from __future__ import annotations

import decimal
import os
import uuid
from urllib.parse import urlsplit

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
    with pytest.raises(eventlab.UsageError, match="names no host or database"):
        eventlab.sources.eventsourcing("postgresql://user@localhost")


# --- the same, from a PostgreSQL database (a real server: .ci/run starts one) ---------------------------

DSN = os.environ.get("EVENTLAB_POSTGRES_DSN", "postgresql://eventlab:eventlab@127.0.0.1:5432/eventlab")


@pytest.fixture
def postgres_bank():
    """Two accounts saved in PostgreSQL by an Application of a name of its own; its tables dropped after."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no PostgreSQL at {DSN} in CI ({exc}); .ci/postgres.sh starts one")
        pytest.skip(f"no PostgreSQL server at {DSN} (set EVENTLAB_POSTGRES_DSN; CI starts one): {exc}")
    url = urlsplit(DSN)
    name = f"Bank{uuid.uuid4().hex[:8]}"
    bank_app = type(name, (Application,), {})
    app = bank_app(env={"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_HOST": url.hostname,
                        "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_DBNAME": url.path.strip("/"),
                        "POSTGRES_USER": url.username, "POSTGRES_PASSWORD": url.password or ""})
    accounts = [Account("dara"), Account("eli")]
    accounts[0].deposit(decimal.Decimal("3.25"))
    app.save(*accounts)
    app.close()
    yield name, accounts
    with psycopg.connect(DSN) as con:
        for table in con.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE %s",
                                 [f"{name.lower()}\\_%"]).fetchall():
            con.execute(f'DROP TABLE "{table[0]}"')


def test_an_eventsourcing_postgresql_database_is_read_too(postgres_bank):
    name, accounts = postgres_bank
    frame = eventlab.sources.eventsourcing(DSN, application=name)
    store = eventlab.EventStore()
    store.import_events(frame)
    dara = store.read(f"account-{accounts[0].id}")
    assert [(e.version, e.type) for e in dara] == [(1, "Account.Opened"), (2, "Account.Deposited")]
    assert dara[1].data == {"amount": "3.25"} and dara[0].metadata["topic"].endswith(":Account.Opened")
    assert len(store.streams("account-")) == 2 and store.verify().ok
    assert store.import_events(eventlab.sources.eventsourcing(DSN, application=name)).imported == 0
