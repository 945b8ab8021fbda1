"""The ``eventlab`` command: build a demo store, load and export events, replay, travel in time, query.

Every subcommand takes ``--db FILE`` (default ``shop.duckdb``) and explains
itself with ``--help``. Commands that only read open the store read-only, so
several can run at once. Mistakes (a missing file, a locked file, an unknown
stream, a time without a UTC offset) end with one line on stderr and exit code
1; usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import duckdb
import pandas as pd

import eventlab
from eventlab.application import checkpoints
from eventlab.application.sqlmacros import install_macros
from eventlab.application.timetravel import state_row
from eventlab.core.decider import Decider
from eventlab.errors import EventLabError, StoreLockedError
from eventlab.examples import orders
from eventlab.examples.queries import QUERIES, run_query
from eventlab.storage import dataset, schema
from eventlab.storage.store import EventStore

DEFAULT_DB = "shop.duckdb"
DECIDERS: dict[str, Decider] = {"order": orders.decider, "stock": orders.stock_decider}
"""Which decider replays a stream, by the stream id's category (the part before the first '-')."""

_TIME_FORMAT = "ISO 8601 with a UTC offset, e.g. 2024-03-10T12:00:00Z or 2024-03-10T12:00:00+01:00"


class CommandError(EventLabError):
    """A mistake on the command line that the command itself found (e.g. an unknown stream)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``eventlab replay: error: ... (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``eventlab`` with ``argv`` (default: the command line); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except BrokenPipeError:  # the reader stopped early (`eventlab info | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (EventLabError, duckdb.Error, OSError) as exc:
        print(f"eventlab {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"eventlab {args.command}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand, with examples in each ``--help``."""
    parser = _Parser(prog="eventlab", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Explore event sourcing on a DuckDB event store.", epilog=_examples(
                         "eventlab demo --orders 5000", "eventlab info", "eventlab replay order-000042",
                         "eventlab states --as-of 2024-03-10T12:00:00Z", "eventlab query funnel"))
    parser.add_argument("--version", action="version", version=f"eventlab {eventlab.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db = _Parser(add_help=False)
    db.add_argument("--db", type=Path, default=Path(DEFAULT_DB), metavar="FILE",
                    help=f"the store file (default: {DEFAULT_DB}), or a Parquet dataset folder written by "
                         f"`eventlab export --partition-by day`, read where it lies")

    def command(name: str, run: Callable[[argparse.Namespace], int | None], summary: str,
                *examples: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[db], help=summary, description=summary,
                                  epilog=_examples(*examples),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(run=run)
        return sub

    demo = command("demo", cmd_demo, "Build a store of simulated orders to explore.",
                   "eventlab demo", "eventlab demo --db big.duckdb --orders 200000 --seed 1")
    demo.add_argument("--orders", type=int, default=1000,
                      help="how many orders (default 1000, about 5 events each)")
    demo.add_argument("--seed", type=int, default=7, help="the same seed gives the same store (default 7)")
    demo.add_argument("--force", action="store_true", help="replace the file if it exists")

    load = command("load", cmd_load, "Append events from a Parquet, CSV or JSON Lines file.",
                   "eventlab load data/orders-sample.parquet --db sample.duckdb",
                   "eventlab load events.csv --db shop.duckdb   # data as JSON text, times with offsets",
                   "eventlab load process-log.csv --sort         # XES columns: case:concept:name ...",
                   "eventlab load process.xes --format xes --sort",
                   "eventlab load bus.jsonl --format cloudevents --sort",
                   "eventlab load tickets.csv --stream case --type activity --time ts --prefix ticket- "
                   "--timezone Europe/Paris")
    load.add_argument("file", type=Path, metavar="FILE",
                      help="columns stream_id, type, data, recorded_at (+ optional metadata, event_id, "
                           "occurred_at, schema_version, version); or the XES names; or map them below")
    load.add_argument("--format", choices=["cloudevents", "xes", "eventsourcing"],
                      help="read FILE as CloudEvents (JSON Lines or a JSON batch), an XES event log, or the "
                           "SQLite file of an application built with the eventsourcing library")
    load.add_argument("--stream", metavar="COL", help="the column that says which stream (case) it is of")
    load.add_argument("--type", metavar="COL", help="the column that says what happened (the activity)")
    load.add_argument("--time", metavar="COL", help="the column that says when it was recorded")
    load.add_argument("--prefix", default="", metavar="P",
                      help="put P before every stream id, e.g. ticket- (streams ticket-<case>)")
    load.add_argument("--sort", action="store_true",
                      help="order the rows by time (ties keep the file's order); without it, rows that go "
                           "back in time are refused")
    load.add_argument("--timezone", metavar="TZ",
                      help="what times without a UTC offset mean, e.g. Europe/Paris or UTC; without it, "
                           "they are refused")

    export = command("export", cmd_export, "Write every event, in log order, to Parquet: one file or a "
                     "dataset partitioned by day that later exports extend.",
                     "eventlab export --parquet exported/", "eventlab export --parquet log.parquet",
                     "eventlab export --parquet lake/events --partition-by day",
                     "eventlab verify --db lake/events")
    export.add_argument("--parquet", type=Path, required=True, metavar="DIR",
                        help="a folder (the file is DIR/events.parquet) or a .parquet path; with "
                             "--partition-by, the dataset's folder")
    export.add_argument("--partition-by", choices=("day", "month"),
                        help="write a Hive-partitioned dataset (day=2024-03-10/...), which Spark and "
                             "`--db DIR` read; exporting again adds only the new events")

    replay = command("replay", cmd_replay, "Show one stream's state, now or at a point in the past.",
                     "eventlab replay order-000042", "eventlab replay order-000042 --version 2",
                     "eventlab replay order-000042 --as-of 2024-03-10T12:00:00Z",
                     "eventlab replay stock-mug --position 5000")
    replay.add_argument("stream", metavar="STREAM", help="a stream id, e.g. order-000042 or stock-mug")
    _add_decider(replay)
    point = replay.add_mutually_exclusive_group()
    point.add_argument("--version", type=_count, metavar="N", help="after the stream's first N events")
    _add_point(point)

    states = command("states", cmd_states, "Show the state of every stream of one kind at a point.",
                     "eventlab states", "eventlab states --as-of 2024-03-10T12:00:00Z --limit 50",
                     "eventlab states --kind stock --position 20000",
                     "eventlab states --kind ticket --decider mytickets:decider")
    _add_point(states.add_mutually_exclusive_group())
    states.add_argument("--kind", metavar="CATEGORY",
                        help="which streams: CATEGORY-... (default: the category with the most streams)")
    _add_decider(states)
    states.add_argument("--limit", type=_count, default=20, help="rows to show (default 20)")

    history = command("history", cmd_history, "Show every event of a stream with the state after it.",
                      "eventlab history order-000042")
    history.add_argument("stream", metavar="STREAM")
    _add_decider(history)

    sql = command("sql", cmd_sql, "Run SQL on the store (read-only; the time-travel macros are there).",
                  'eventlab sql "SELECT type, count(*) FROM events GROUP BY type"',
                  "eventlab sql \"SELECT * FROM order_states_as_of(TIMESTAMPTZ '2024-03-10 12:00:00+00')\"",
                  "eventlab sql \"SELECT * FROM stream_at('order-000042', 2)\"")
    sql.add_argument("query", metavar="SQL")
    sql.add_argument("--limit", type=_count, default=100, help="rows to show (default 100)")

    command("verify", cmd_verify, "Check the hash chain: exit 1 if an event was changed behind the API.",
            "eventlab verify")
    command("info", cmd_info, "Summarize the store: events, streams, types, time span.", "eventlab info")

    query = command("query", cmd_query, "Run one of the example queries (see --list).",
                    "eventlab query --list", "eventlab query funnel",
                    "eventlab query revenue_known_then_vs_now --show-sql")
    query.add_argument("name", nargs="?", choices=list(QUERIES), metavar="NAME")
    query.add_argument("--list", action="store_true", help="list the queries and what they show")
    query.add_argument("--show-sql", action="store_true", help="print the SQL before the result")
    query.add_argument("--limit", type=_count, default=100, help="rows to show (default 100)")
    return parser


# --- the subcommands -------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> None:
    """Simulate ``--orders`` orders into a new store file, then suggest what to try."""
    from eventlab.examples.sample import demo_store

    if args.db.exists() and not args.force:
        raise CommandError(f"{str(args.db)!r} exists already; choose another --db, "
                           f"or add --force to replace it")
    if args.orders < 1:
        raise CommandError(f"--orders must be at least 1, got {args.orders}")
    if args.db.exists():
        _refuse_if_open_elsewhere(args.db)
    for path in (args.db, Path(f"{args.db}.wal")):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    with demo_store(args.db, args.orders, args.seed, progress=sys.stderr.isatty(),
                    snapshot_every=checkpoints.EVERY) as store:
        events, placed, first = store.rows("""
            SELECT count(*), count(DISTINCT stream_id) FILTER (starts_with(stream_id, 'order-')),
                   min(recorded_at) FROM events""")[0]
        order = _interesting_order(store)
    at = _iso(first + timedelta(days=6, hours=12))
    db = "" if str(args.db) == DEFAULT_DB else f" --db {args.db}"
    print(f"Built {args.db} in {time.perf_counter() - started:.1f} s: {events:,} events of {placed:,} "
          f"orders ({args.orders - placed:,} more were refused for lack of stock, and a refused "
          f"command leaves no event).\n\nTry next:")
    for line in [f"eventlab info{db}", f"eventlab history {order}{db}",
                 f"eventlab replay {order}{db} --version 2", f"eventlab states{db} --as-of {at}",
                 f"eventlab query --list{db}", f"eventlab query revenue_known_then_vs_now{db}",
                 f"eventlab sql{db} \"SELECT status, count(*) FROM order_states_as_of('{at}') "
                 f"GROUP BY status\"",
                 f"duckdb {args.db} -c \"SELECT * FROM order_states_at(1000) LIMIT 5\""]:
        print(f"  {line}")


def cmd_load(args: argparse.Namespace) -> None:
    """Import a file of events, keeping their timestamps; a foreign log's columns mapped as asked."""
    if not args.file.is_file():
        raise CommandError(f"no file at {str(args.file)!r} to load")
    given = {"stream_id": args.stream, "type": args.type, "recorded_at": args.time}
    columns = {name: column for name, column in given.items() if column} or None
    source = getattr(eventlab.sources, args.format)(args.file) if args.format else args.file
    with EventStore(args.db) as store:
        report = store.import_events(source, columns=columns, stream_prefix=args.prefix, sort=args.sort,
                                     timezone=args.timezone, progress=sys.stderr.isatty())
        install_macros(store, *_deciders_with_streams(store))
    where = f" (positions {report.first_position:,} to {report.last_position:,})" if report.imported else ""
    print(f"Loaded {report.imported:,} events into {args.db}{where}; "
          f"{report.skipped:,} were stored already and skipped.")


def cmd_export(args: argparse.Namespace) -> None:
    """Export the log to Parquet."""
    target = args.parquet
    if args.partition_by:
        with _open(args.db) as store:
            before = dataset_size(target)
            path = store.export_parquet(target, partition_by=args.partition_by)
            total = store.count()
        print(f"Wrote {total - before:,} new events to the dataset {path} "
              f"({total:,} in all, partitioned by {args.partition_by})")
        return
    if target.suffix.lower() != ".parquet":
        target.mkdir(parents=True, exist_ok=True)
    with _open(args.db) as store:
        path = store.export_parquet(target)
        print(f"Wrote {store.count():,} events to {path}")


def dataset_size(path: Path) -> int:
    """How many events the dataset at ``path`` holds (0 if there is none yet)."""
    if not dataset.files_of(path):
        return 0
    with EventStore.open_dataset(path) as lake:
        return lake.count()


def cmd_replay(args: argparse.Namespace) -> None:
    """Replay one stream up to a point and print its state, one field per line."""
    with _open(args.db) as store:
        decider = _decider_for(store, args.stream, args.decider)
        point = {"version": args.version, "position": args.position, "as_of": args.as_of}
        state = eventlab.state_at(store, args.stream, decider, **point)
        version = _version_at(store, args.stream, args.version, args.position, args.as_of)
        fields = {"stream": args.stream, "version": f"{version} of {store.stream_version(args.stream)}",
                  **state_row(state)}
    width = max(map(len, fields)) + 1
    for name, value in fields.items():
        print(f"{name + ':':<{width}} {_plain(value)}")


def cmd_states(args: argparse.Namespace) -> None:
    """Print the whole system (every stream of one kind) at a point."""
    with _open(args.db) as store:
        kind = args.kind or _largest_category(store)
        decider = args.decider or DECIDERS.get(kind) or eventlab.latest_values(kind)
        if args.decider and args.kind and decider.category != kind:
            raise CommandError(f"--decider {decider.name or 'given'} owns {decider.category!r} streams, not "
                               f"{kind!r}; leave out --kind, or pass a decider of {kind!r} streams")
        table = eventlab.states_at(store, decider, position=args.position, as_of=args.as_of)
        kind = decider.category or kind
    when = (f"as of {_iso(args.as_of)}" if args.as_of else f"at position {args.position:,}"
            if args.position is not None else "now")
    print(f"{len(table):,} {kind} streams {when}")
    _show(table, args.limit)


def cmd_history(args: argparse.Namespace) -> None:
    """Print a stream's events, one per row, with the state after each."""
    with _open(args.db) as store:
        table = eventlab.history(store, args.stream, _decider_for(store, args.stream, args.decider))
    if table["occurred_at"].isna().all():
        table = table.drop(columns="occurred_at")
    _show(table, len(table))


def cmd_sql(args: argparse.Namespace) -> None:
    """Run any SQL on a read-only connection, with the time-travel macros available."""
    with _open(args.db) as store:
        install_macros(store, *_deciders_with_streams(store))
        relation = store.sql(args.query)
        if relation is None:
            print("ok")
            return
        _show(relation.limit(args.limit + 1).df(), args.limit)


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute the hash chain; exit 1 if the log was changed behind the API's back."""
    with _open(args.db) as store:
        report = store.verify()
    print(report)
    return 0 if report.ok else 1


def cmd_info(args: argparse.Namespace) -> None:
    """What the store holds."""
    with _open(args.db) as store:
        events, streams, first, last, late = store.rows("""
            SELECT count(*), count(DISTINCT stream_id), min(recorded_at), max(recorded_at),
                   count(*) FILTER (occurred_at IS NOT NULL AND occurred_at <> recorded_at) FROM events""")[0]
        categories = store.rows("""
            SELECT split_part(stream_id, '-', 1) AS category, count(DISTINCT stream_id), min(stream_id)
            FROM events GROUP BY category ORDER BY count(*) DESC""")
        types = store.counts_df()
        macros = [row[0] for row in store.rows(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'table_macro' "
            "AND NOT internal ORDER BY 1")]
    files = dataset.files_of(args.db) if args.db.is_dir() else [args.db]
    kind = f"a Parquet dataset, {len(files):,} files, " if args.db.is_dir() else ""
    print(f"store:     {args.db} ({kind}{sum(f.stat().st_size for f in files) / 1e6:,.1f} MB)")
    print(f"events:    {events:,}")
    print(f"streams:   {streams:,} (" + ", ".join(f"{c}: {n:,}" for c, n, _ in categories) + ")")
    if events:
        print(f"recorded:  {_iso(first)} to {_iso(last)}")
        print(f"late:      {late:,} events happened (occurred_at) before they were recorded")
        print("examples:  " + ", ".join(example for *_, example in categories))
    print("macros:    " + ("installed: " + ", ".join(f"{name}(...)" for name in macros)
                           if macros else "not installed (eventlab sql installs them for its session)"))
    print("types:")
    for type_, count in types.itertuples(index=False):
        print(f"  {type_:<20} {count:>12,}")


def cmd_query(args: argparse.Namespace) -> None:
    """List the example queries, or run one."""
    if args.list or args.name is None:
        width = max(map(len, QUERIES))
        for query in QUERIES.values():
            print(f"{query.name:<{width}}  {query.description}")
        return
    if args.show_sql:
        print(QUERIES[args.name].sql.strip() + "\n")
    with _open(args.db) as store:
        _show(run_query(store, args.name), args.limit)


# --- helpers ---------------------------------------------------------------------------------


def _open(db: Path) -> EventStore:
    """Open an existing store read-only: other readers may use it at the same time. A folder is
    opened as a Parquet dataset (``export --partition-by``), read where it lies."""
    if not db.exists():
        raise CommandError(f"no store at {str(db)!r}; make one with `eventlab demo --db {db}` "
                           f"or `eventlab load FILE --db {db}`")
    if db.is_dir():
        return EventStore.open_dataset(db)
    return EventStore(db, read_only=True)


def _refuse_if_open_elsewhere(db: Path) -> None:
    """``--force`` must not delete a store that another process (a notebook kernel) has open for
    writing: that process would go on writing to a deleted file, and its events would be lost."""
    try:
        schema.connect_file(db, read_only=True).close()
    except StoreLockedError:
        raise
    except EventLabError:
        pass  # damaged, or not a DuckDB file at all: replacing it is what --force is for


def _decider_for(store: EventStore, stream_id: str, given: Decider | None = None) -> Decider:
    """The decider from --decider, the shop's for its own streams, else latest_values of the category."""
    if store.stream_version(stream_id) == 0:
        examples = ", ".join(row[0] for row in store.rows(
            "SELECT min(stream_id) FROM events GROUP BY split_part(stream_id, '-', 1) ORDER BY 1"))
        raise CommandError(f"no stream {stream_id!r} in {store.path}; stream ids look like "
                           f"{examples or 'order-000001'} (eventlab info lists more)")
    category = stream_id.split("-", 1)[0]
    return given or DECIDERS.get(category) or eventlab.latest_values(category)


def _deciders_with_streams(store: EventStore) -> list[Decider]:
    """The shop's deciders with a state SQL whose streams the store holds: the ones worth SQL macros."""
    return [decider for category, decider in DECIDERS.items() if decider.state_sql
            and store.rows("SELECT 1 FROM events WHERE starts_with(stream_id, ?) LIMIT 1", [f"{category}-"])]


def _largest_category(store: EventStore) -> str:
    """The stream category (the part of a stream id before the first '-') with the most streams."""
    rows = store.rows("SELECT split_part(stream_id, '-', 1) AS category FROM events GROUP BY stream_id")
    counts = pd.Series([row[0] for row in rows]).value_counts()
    if counts.empty:
        raise CommandError(f"{store.path} holds no events yet; load some with: eventlab load FILE")
    return str(counts.index[0])


def _decider_argument(text: str) -> Decider:
    """``module:attribute`` -> the Decider it names (the module is imported from the current folder too)."""
    module_name, _, attribute = text.partition(":")
    if not module_name or not attribute:
        raise argparse.ArgumentTypeError(f"{text!r} is not module:attribute, e.g. mytickets:decider")
    if "" not in sys.path:
        sys.path.insert(0, "")  # a module next to the user, as python -m would find it
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        raise argparse.ArgumentTypeError(f"cannot import {module_name!r} for --decider: {exc}") from None
    except AttributeError:
        raise argparse.ArgumentTypeError(f"module {module_name!r} has no {attribute!r} (--decider)") from None
    if not isinstance(value, Decider):
        raise argparse.ArgumentTypeError(f"{text} is a {type(value).__name__}, not an eventlab.Decider")
    return value


def _add_decider(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decider", type=_decider_argument, metavar="MODULE:ATTR",
                        help="your own eventlab.Decider (default: the shop's for order and stock streams, "
                             "eventlab.latest_values for any other)")


def _version_at(store: EventStore, stream_id: str, version: int | None, position: int | None,
                as_of: datetime | None) -> int:
    """The stream's version at the point asked for: how many of its events the state includes."""
    condition, params = ("position <= ?", [position]) if position is not None else \
        ("recorded_at <= ?", [as_of]) if as_of is not None else ("true", [])
    count = store.rows(f"SELECT count(*) FROM events WHERE stream_id = ? AND {condition}",
                        [stream_id, *params])[0][0]
    return count if version is None else min(version, count)


def _interesting_order(store: EventStore) -> str:
    """An order whose story shows a cart changing: the first one with an item removed."""
    rows = store.rows("SELECT stream_id FROM events WHERE type = 'ItemRemoved' ORDER BY position LIMIT 1") \
        or store.rows("SELECT min(stream_id) FROM events WHERE starts_with(stream_id, 'order-')")
    return rows[0][0] or "order-000001"


def _add_point(group: argparse._MutuallyExclusiveGroup) -> None:
    group.add_argument("--as-of", type=_moment, metavar="TIME",
                       help=f"what was recorded by TIME ({_TIME_FORMAT})")
    group.add_argument("--position", type=_count, metavar="P", help="after the log's first P events")


def _moment(text: str) -> datetime:
    """Parse ``--as-of``: ISO 8601 with an offset or Z; a time without one is ambiguous."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time; write {_TIME_FORMAT}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; write {_TIME_FORMAT}")
    return moment


def _count(text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _show(table: pd.DataFrame, limit: int) -> None:
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(table.head(limit).to_string(index=False) if len(table) else "(no rows)")
    if len(table) > limit:
        print(f"... more rows not shown (--limit {limit} to change)")


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    return "(none)" if value is None else str(value)


def _iso(moment: datetime) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(exc: BaseException) -> str:
    """An error as one line: DuckDB and pandas messages can span several."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


if __name__ == "__main__":
    sys.exit(main())
