"""Time travel in plain SQL: the macros return what the Python API returns, and travel with the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import eventlab
from eventlab.errors import UsageError
from eventlab.examples import orders
from eventlab.sample import START, demo_store
from eventlab.sqlmacros import install_macros


def rows(frame) -> list[dict]:
    """A table as plain records (DuckDB lists come back as arrays; states_at gives lists)."""
    return [{k: list(v) if k == "items" else v for k, v in row.items()} for row in frame.to_dict("records")]


@pytest.fixture(scope="module")
def store():
    with demo_store(n_orders=400, seed=5) as store:
        yield store


MOMENTS = [START - timedelta(days=1), START + timedelta(hours=20),
           START + timedelta(days=9, hours=13, minutes=37), START + timedelta(days=23, seconds=1),
           START + timedelta(weeks=7)]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.isoformat())
def test_order_states_as_of_equals_states_at(store, moment):
    in_sql = store.sql("SELECT * FROM order_states_as_of(?)", params=[moment]).df()
    in_python = eventlab.states_at(store, orders.decider, as_of=moment, method="python")
    assert list(in_sql.columns) == list(in_python.columns)
    assert rows(in_sql) == rows(in_python)


def test_order_states_at_positions_and_now_equal_states_at(store):
    for position in (0, 1, 17, 250, store.head_position // 2, store.head_position - 1, store.head_position):
        in_sql = store.sql(f"SELECT * FROM order_states_at({position})").df()
        assert rows(in_sql) == rows(eventlab.states_at(store, orders.decider, position=position)), position
    now = store.sql("SELECT * FROM order_states").df()
    assert rows(now) == rows(eventlab.states_at(store, orders.decider))


def test_events_as_of_until_and_stream_at_cut_the_log(store):
    moment = START + timedelta(days=3, hours=19)
    as_of = store.sql("SELECT position FROM events_as_of(?)", params=[moment]).df()["position"].tolist()
    assert as_of == [r.position for r in store.read_all(until=moment)]
    assert store.sql("SELECT position FROM events_until(42)").df()["position"].tolist() == list(range(1, 43))
    stream = store.read("order-000007")
    cut = store.sql("SELECT version, type FROM stream_at('order-000007', 2)").df()
    assert list(cut.itertuples(index=False, name=None)) == [(r.version, r.type) for r in stream[:2]]


def test_a_decider_without_state_sql_gets_no_macros(store):
    with pytest.raises(UsageError, match="state_sql"):
        install_macros(store, orders.stock_decider)


def test_macros_are_saved_in_a_store_file_and_work_read_only_and_in_the_duckdb_cli(tmp_path):
    path = tmp_path / "shop.duckdb"
    demo_store(path, n_orders=150, seed=2).close()
    moment = "2024-03-20 18:00:00+00"
    with eventlab.EventStore(path, read_only=True) as store:  # the macros were saved with the file
        saved = store.sql(f"SELECT stream_id, status, paid FROM order_states_as_of('{moment}')").fetchall()
        expected = eventlab.states_at(store, orders.decider, as_of=START + timedelta(days=16, hours=18))
        assert saved == list(expected[["stream_id", "status", "paid"]].itertuples(index=False, name=None))
        # TEMP macros: a read-only file cannot save any
        assert "order_states" in install_macros(store, orders.decider)
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if cli is None:
        pytest.skip("the duckdb command line is not installed (pip install duckdb-cli)")
    result = subprocess.run([cli, "-readonly", "-csv", "-noheader", str(path), "-c",
                             f"SELECT stream_id, status, paid FROM order_states_as_of('{moment}')"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    printed = [line.split(",") for line in result.stdout.split()]
    assert [(s, status, float(paid)) for s, status, paid in printed] == saved
