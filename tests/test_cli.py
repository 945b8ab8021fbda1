"""The `eventlab` command, run as a user runs it: a subprocess per command, exit codes, stdout, stderr."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import eventlab
from eventlab.cli import main
from eventlab.examples import orders
from eventlab.sample import generate_orders


def eventlab_cmd(*args: object, in_process: bool = False) -> subprocess.CompletedProcess:
    """Run `eventlab ARGS`: as a subprocess (what a user sees), or through main() (faster)."""
    args = [str(arg) for arg in args]
    if not in_process:
        return subprocess.run([sys.executable, "-m", "eventlab.cli", *args],
                              capture_output=True, text=True, timeout=120)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse's usage errors and --help
            code = exit_.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(*args: object, in_process: bool = False) -> str:
    result = eventlab_cmd(*args, in_process=in_process)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(*args: object, code: int = 1, in_process: bool = False) -> str:
    """Run a command that must fail: the given exit code and one line on stderr, no traceback."""
    result = eventlab_cmd(*args, in_process=in_process)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A demo store file made by `eventlab demo`, and what it printed."""
    db = tmp_path_factory.mktemp("cli") / "shop.duckdb"
    printed = ok("demo", "--db", db, "--orders", 300, "--seed", 3)
    return db, printed


def test_demo_builds_the_sample_store_and_suggests_what_to_try(shop):
    db, printed = shop
    with eventlab.EventStore(db, read_only=True) as store:
        expected = generate_orders(300, seed=3)
        assert store.count() == len(expected)
        assert store.verify().ok
    assert f"{len(expected):,} events" in printed
    assert "Try next:" in printed and "eventlab replay order-" in printed
    assert "exists already" in fails("demo", "--db", db, in_process=True)  # never overwrites without --force


def test_replay_prints_the_state_now_and_at_a_version(shop):
    db, _ = shop
    with eventlab.EventStore(db, read_only=True) as store:
        state = eventlab.state_at(store, "order-000001", orders.decider, version=1)
    printed = ok("replay", "order-000001", "--db", db, "--version", 1)
    lines = dict(line.split(":", 1) for line in printed.splitlines())
    assert lines["status"].strip() == "Placed"
    assert lines["items"].strip() == ", ".join(state.items)
    assert lines["version"].strip().startswith("1 of ")
    before = ok("replay", "order-000001", "--db", db, "--as-of", "2024-03-01T00:00:00Z", in_process=True)
    assert "status:   New" in before
    assert "on_hand:" in ok("replay", "stock-mug", "--db", db, "--position", 500, in_process=True)


def test_states_history_info_and_sql(shop):
    db, _ = shop
    states = ok("states", "--db", db, "--as-of", "2024-03-10T12:00:00+01:00", "--limit", 3)
    assert "order streams as of 2024-03-10T11:00:00Z" in states and "more rows" in states
    assert "stock-mug" in ok("states", "--db", db, "--kind", "stock", in_process=True)
    history = ok("history", "order-000001", "--db", db)
    assert history.splitlines()[1].split()[2] == "OrderPlaced"
    info = ok("info", "--db", db)
    assert "events:" in info and "OrderPlaced" in info and "macros:    installed" in info
    counted = ok("sql", "--db", db, "SELECT count(*) AS n FROM order_states_at(100)")
    with eventlab.EventStore(db, read_only=True) as store:
        assert int(counted.split()[-1]) == len(eventlab.states_at(store, orders.decider, position=100))


def test_query_lists_and_runs_the_example_queries(shop):
    db, _ = shop
    listed = ok("query", "--list", in_process=True)
    assert "funnel" in listed and "revenue_known_then_vs_now" in listed
    funnel = ok("query", "funnel", "--db", db, "--show-sql")
    assert "WITH reached AS" in funnel and "placed" in funnel and "shipped" in funnel


def test_export_then_load_reproduces_the_log(shop, tmp_path):
    db, _ = shop
    ok("export", "--db", db, "--parquet", tmp_path / "out")
    copy = tmp_path / "copy.duckdb"
    assert "Loaded" in ok("load", tmp_path / "out" / "events.parquet", "--db", copy)
    head = ok("verify", "--db", db).split("head ")[1]
    assert ok("verify", "--db", copy, in_process=True).split("head ")[1] == head
    again = ok("load", tmp_path / "out" / "events.parquet", "--db", copy, in_process=True)
    assert "Loaded 0 events" in again  # every event is there already



def test_export_partitioned_by_day_then_every_reading_command_works_on_the_dataset(shop, tmp_path):
    db, _ = shop
    lake = tmp_path / "lake"
    first = ok("export", "--db", db, "--parquet", lake, "--partition-by", "day", in_process=True)
    total = eventlab.EventStore(db, read_only=True).count()
    assert f"Wrote {total:,} new events" in first
    again = ok("export", "--db", db, "--parquet", lake, "--partition-by", "day", in_process=True)
    assert "Wrote 0 new events" in again  # nothing new in the log: nothing added
    assert ok("verify", "--db", lake, in_process=True) == ok("verify", "--db", db, in_process=True)
    assert "a Parquet dataset, " in ok("info", "--db", lake, in_process=True)
    by_type = "SELECT type, count(*) FROM events GROUP BY 1 ORDER BY 1"
    for command in (["states", "--as-of", "2024-03-20T00:00:00Z"], ["replay", "order-000007"],
                    ["history", "order-000007"], ["sql", by_type]):
        assert ok(*command, "--db", lake, in_process=True) == ok(*command, "--db", db, in_process=True)

def test_load_reads_csv_and_json_lines_and_refuses_naive_times(tmp_path):
    events = generate_orders(40, seed=1)
    events.to_csv(tmp_path / "events.csv", index=False)
    events.to_json(tmp_path / "events.jsonl", orient="records", lines=True, date_format="iso")
    heads = set()
    for source in ("events.csv", "events.jsonl"):
        db = tmp_path / f"{source}.duckdb"
        ok("load", tmp_path / source, "--db", db, in_process=True)
        heads.add(ok("verify", "--db", db, in_process=True).split("head ")[1])
    assert len(heads) == 1  # the same log, hash for hash
    naive = events.assign(recorded_at=events["recorded_at"].dt.tz_localize(None))
    naive.to_csv(tmp_path / "naive.csv", index=False)
    db = tmp_path / "c.duckdb"
    assert "has no UTC offset" in fails("load", tmp_path / "naive.csv", "--db", db, in_process=True)
    (tmp_path / "events.txt").write_text("hello")
    assert ".parquet, .csv or .jsonl" in fails("load", tmp_path / "events.txt", "--db", db, in_process=True)


def test_verify_exits_non_zero_and_names_the_position_when_tampered(shop, tmp_path):
    db = tmp_path / "tampered.duckdb"
    shutil.copy(shop[0], db)
    with duckdb.connect(str(db)) as con:
        con.execute("""UPDATE events SET data = '{"sku":"mug","quantity":1000}' WHERE position = 5""")
    result = eventlab_cmd("verify", "--db", db, in_process=True)
    assert result.returncode == 1
    assert "TAMPERED at position 5" in result.stdout


def test_user_mistakes_are_one_line_errors(shop, tmp_path):
    db, _ = shop
    assert "no store at" in fails("info", "--db", tmp_path / "missing.duckdb")
    assert "no stream 'order-999999'" in fails("replay", "order-999999", "--db", db)
    assert "no UTC offset" in fails("replay", "order-000001", "--db", db, "--as-of", "2024-03-10 12:00",
                                    code=2)
    assert "is not a time" in fails("states", "--db", db, "--as-of", "last tuesday", code=2)
    assert "not allowed with" in fails("replay", "order-000001", "--db", db, "--version", 1,
                                       "--position", 3, code=2, in_process=True)
    assert "Parser Error" in fails("sql", "--db", db, "SELEC 1", in_process=True)
    assert "read-only" in fails("sql", "--db", db, "DELETE FROM events", in_process=True)
    assert "invalid choice" in fails("query", "nonsense", code=2, in_process=True)


def test_a_store_held_open_for_writing_elsewhere_is_reported_as_locked(shop, tmp_path):
    db = tmp_path / "held.duckdb"
    shutil.copy(shop[0], db)
    with eventlab.EventStore(db):  # this test process holds the write lock
        assert "open for writing" in fails("info", "--db", db)


def test_the_installed_script_and_help_with_examples():
    script = shutil.which("eventlab", path=str(Path(sys.executable).parent)) or shutil.which("eventlab")
    if script is None:
        pytest.skip("the eventlab script is not installed (pip install -e .)")
    result = subprocess.run([script, "replay", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--as-of" in result.stdout


def test_states_replay_and_history_explore_a_domain_eventlab_does_not_know(tmp_path, monkeypatch):
    db = tmp_path / "tickets.duckdb"
    with eventlab.EventStore(db) as store:
        store.append("ticket-1", [eventlab.NewEvent("Ticket opened", {"title": "printer", "priority": "low"}),
                                  eventlab.NewEvent("Take in charge ticket", {"agent": "ann"}),
                                  eventlab.NewEvent("Resolve ticket", {"resolution": "new drum"})])
        store.append("ticket-2", [eventlab.NewEvent("Ticket opened", {"title": "vpn"})])
        store.append("agent-ann", [eventlab.NewEvent("Agent hired", {"team": "desk"})])
    table = ok("states", "--db", db, in_process=True)  # tickets are the largest category
    assert table.startswith("2 ticket streams now") and "new drum" in table and "Resolve ticket" in table
    assert "Take in charge ticket" in ok("replay", "ticket-1", "--version", 2, "--db", db, in_process=True)
    trail = ok("history", "ticket-1", "--db", db, in_process=True)
    assert [line.split()[0] for line in trail.splitlines()[1:]] == ["1", "2", "3"]  # positions, one per event
    (tmp_path / "mytickets.py").write_text(
        "import eventlab\n"
        "decider = eventlab.Decider({'stage': 'new'}, lambda s, e: {'stage': e.type.lower()}, "
        "category='ticket', raw=True)\n")
    monkeypatch.chdir(tmp_path)
    mine = ok("states", "--db", db, "--decider", "mytickets:decider", in_process=True)
    assert "resolve ticket" in mine and "ticket opened" in mine
    missing = fails("states", "--db", db, "--decider", "mytickets:nothing", code=2, in_process=True)
    assert "no 'nothing'" in missing
    wrong = fails("states", "--db", db, "--decider", "eventlab:EventStore", code=2, in_process=True)
    assert "not an eventlab.Decider" in wrong
