"""Run the orders-v1 benchmark: eventlab next to the ``eventsourcing`` library, phase by phase.

    python -m benchmarks.run --size smoke    # seconds; CI runs it so the suite keeps working
    python -m benchmarks.run --size full     # the workload's defaults: 20,000 orders (~90,000 events)
    python -m benchmarks.run --size scale    # full, then again at ~1 M events (220,000 orders)

Each phase of each side runs in a fresh process (so each has its own peak memory); the
two sides take turns, phase by phase, so both see the same noise of a shared machine.
Prints a table (figures, ratio, targets) and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks.harness import SIZES, Size, run_phase

SIDES = ("eventlab", "peer")
RESULTS = Path(__file__).resolve().parent / "results"
RUNS = {"smoke": ("smoke",), "full": ("full",), "scale": ("full", "scale")}


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[dict, dict], bool]  # (eventlab figures, peer figures) -> met?
    at_scale_only: bool = False


@dataclass(frozen=True)
class Row:
    """One line of the table: a phase's figure on each side (their approach named in ``label``)."""

    phase: str
    label: str
    eventlab: str          # key in the eventlab side's figures
    peer: str | None       # key in the peer side's figures
    lower_is_better: bool = False
    target: Target | None = None


def _at_most(key: str, limit: float, unit: str) -> Target:
    return Target(f"<= {limit:g} {unit}", lambda el, pe: el[key] <= limit)


def _keeps_up(widget: str) -> Target:
    """Playing keeps up: each step shown (p95) within the Play widget's interval."""
    prefix = f"{widget} " if widget else ""
    return Target("<= the Play interval",
                  lambda el, pe: el[f"{prefix}play p95 ms"] <= el[f"{prefix}play interval ms"])


def _ratio_at_least(key: str, peer_key: str, times: float) -> Target:
    return Target(f">= {times:g}x the peer", lambda el, pe: el[key] >= times * pe[peer_key])


def _import_target(key: str) -> Target:
    return Target(">= 250,000 events/s at 1M events", lambda el, pe: el[key] >= 250_000, at_scale_only=True)


ROWS = [
    Row("append", "events/s: handle, 1 commit per command vs save() per command", "events/s", "events/s"),
    Row("append", "latency p50 ms", "p50 ms", "p50 ms", True,
        Target("<= 1.5x bare INSERT p50", lambda el, pe: el["p50 ms"] <= 1.5 * el["floor p50 ms"])),
    Row("append", "latency p95 ms", "p95 ms", "p95 ms", True),
    Row("append", "floor: bare 1-row INSERT p50 ms, DuckDB vs SQLite", "floor p50 ms", "floor p50 ms", True),
    Row("append", "floor: bare 1-row INSERT p95 ms, DuckDB vs SQLite", "floor p95 ms", "floor p95 ms", True),
    Row("append-batched", "events/s: unit_of_work vs save(*aggregates), 1,000 commands each",
        "events/s", "events/s", target=_ratio_at_least("events/s", "events/s", 2)),
    Row("append-batched", "events/s: the order rules alone, decide + fold into a dict, no store (a ceiling)",
        "domain events/s", None),
    Row("import", "events/s: import_events(DataFrame) into a new file vs recorder.insert_events", "events/s",
        "events/s", target=_import_target("events/s")),
    Row("import", "events/s: as many events again into that file (peer: no equivalent)",
        "events/s into a full file", None, target=_import_target("events/s into a full file")),
    Row("import", "floor events/s: DuckDB INSERT + COMMIT of the same rows, the store's indexes, new file",
        "floor events/s", None),
    Row("import", "floor events/s: the same, the rest of the rows into that file",
        "floor events/s full", None),
    Row("import", "floor events/s: the same rows into a plain table, no index, new file",
        "floor no index events/s", None),
    Row("import", "floor events/s: no index, the rest of the rows into that file",
        "floor no index events/s full", None),
    Row("import", "import_events ÷ its floor (the store's indexes), new file", "x floor", None),
    Row("import", "import_events ÷ its floor (the store's indexes), into the full file",
        "x floor full", None),
    Row("replay_all", "orders/s: states_at python vs repository.get loop", "orders/s python", "orders/s",
        target=_ratio_at_least("orders/s python", "orders/s", 20)),
    Row("replay_all", "orders/s: states_at sql vs repository.get loop", "orders/s sql", "orders/s",
        target=_ratio_at_least("orders/s sql", "orders/s", 20)),
    Row("replay_all", "orders/s: states_at python vs one notification-log scan", "orders/s python",
        "orders/s log scan"),
    Row("replay_all", "peak RSS MB of the phase: states_at python + sql vs repository.get loop + log scan",
        "peak RSS MB", "peak RSS MB", True,
        Target("<= 1 GiB at 1M events", lambda el, pe: el["peak RSS MB"] <= 1024, at_scale_only=True)),
    Row("time_travel", "orders/s: state_at(version=3) loop vs repository.get(version=3) loop",
        "orders/s state_at loop", "orders/s",
        target=_ratio_at_least("orders/s state_at loop", "orders/s", 20)),
    Row("time_travel", "orders/s: one query + Python replay vs repository.get(version=3) loop",
        "orders/s one query + replay", "orders/s",
        target=_ratio_at_least("orders/s one query + replay", "orders/s", 20)),
    Row("time_travel", "orders/s: state_sql over version <= 3 vs repository.get(version=3) loop",
        "orders/s state_sql", "orders/s", target=_ratio_at_least("orders/s state_sql", "orders/s", 20)),
    Row("time_travel", "orders/s: one query + Python replay vs one log scan (version <= 3)",
        "orders/s one query + replay", "orders/s log scan"),
    Row("states_at", "seconds: states_at(as_of) python vs log scan", "s python", "s", True),
    Row("states_at", "seconds: states_at(as_of) sql vs log scan", "s sql", "s", True,
        Target("<= 0.3 s at 1M events", lambda el, pe: el["s sql"] <= 0.3, at_scale_only=True)),
    Row("states_at", "seconds: states_at(latest_values('order')) sql, no code (peer: no equivalent)",
        "s latest_values sql", None, True,
        Target("<= 1.5x the shop's state SQL at 1M events",
               lambda el, pe: el["s latest_values sql"] <= 1.5 * el["s sql"], at_scale_only=True)),
    Row("long_stream", "seconds, cold, median: state_at vs repository.get", "s", "s", True,
        Target("<= 0.3 s", lambda el, pe: el["s"] <= 0.3)),
    Row("long_stream", "seconds to take a snapshot at the head: snapshots.take vs app.take_snapshot",
        "snapshot take s", "snapshot take s", True),
    Row("long_stream", "ms, median, from the snapshot: new EventStore + state_at vs new app + repository.get",
        "ms open + from snapshot", "ms open + from snapshot", True,
        Target("<= 10 ms", lambda el, pe: el["ms open + from snapshot"] <= 10)),
    Row("long_stream", "ms, median, from the snapshot on an open store: state_at vs repository.get",
        "ms from snapshot", "ms from snapshot", True,
        Target("<= 10 ms", lambda el, pe: el["ms from snapshot"] <= 10)),
    Row("long_stream", "ms, median: of which DuckDB fetching the snapshot's row (its JSON not parsed)",
        "ms snapshot fetch", None, True),
    Row("projection_rebuild", "seconds: rebuild(order_summary) sql vs one log pass into a dict per order",
        "s sql", "s", True,
        Target("<= 2 s at 1M events", lambda el, pe: el["s sql"] <= 2, at_scale_only=True)),
    Row("projection_rebuild", "events/s: rebuild(order_summary) sql vs one log pass into a dict per order",
        "events/s sql", "events/s"),
    Row("projection_rebuild", "events/s: rebuild(order_summary) python handlers (first orders) vs log pass",
        "events/s python", "events/s"),
    *(row for shape, phase in (("orders-v1", "slider"), ("the demo store", "demo")) for row in (
        Row(phase, f"ms per move, p50 / p95 / max: TimeSlider.slider.value = random position, {shape} "
            f"(peer: no equivalent)", "time slider p50 ms", None, True),
        Row(phase, "ms per move, p95: TimeSlider", "time slider p95 ms", None, True,
            _at_most("time slider p95 ms", 50, "ms")),
        Row(phase, "ms per move, max: TimeSlider", "time slider max ms", None, True),
        Row(phase, "seconds to build the TimeSlider", "time slider build s", None, True,
            _at_most("time slider build s", 1, "s")),
        Row(phase, "ms per step, p95: TimeSlider played (Play: play.step positions every play.interval ms)",
            "time slider play p95 ms", None, True, _keeps_up("time slider")),
        Row(phase, "ms per move, p50: StreamSlider over the longest stream, random version",
            "stream slider p50 ms", None, True),
        Row(phase, "ms per move, p95: StreamSlider", "stream slider p95 ms", None, True,
            _at_most("stream slider p95 ms", 50, "ms")),
        Row(phase, "ms per move, max: StreamSlider", "stream slider max ms", None, True),
        Row(phase, "events of that longest stream", "stream slider events", None),
        Row(phase, "ms per step, p95: StreamSlider played", "stream slider play p95 ms", None, True,
            _keeps_up("stream slider")),
        Row(phase, "seconds to build the StreamSlider (index and checkpoints of that stream)",
            "stream slider build s", None, True,
            _at_most("stream slider build s", 1, "s")),
        Row(phase, "ms per move, p50: EventExplorer, type a random stream's id, pick its event",
            "explorer p50 ms", None, True),
        Row(phase, "ms per move, p95: EventExplorer", "explorer p95 ms", None, True,
            _at_most("explorer p95 ms", 50, "ms")),
        Row(phase, "ms per move, max: EventExplorer", "explorer max ms", None, True),
        Row(phase, "seconds to build the EventExplorer", "explorer build s", None, True,
            _at_most("explorer build s", 1, "s")),
        Row(phase, "ms, p50: state_at(stream of a random event, its version)", "state_at p50 ms", None, True),
        Row(phase, "ms, p95: state_at", "state_at p95 ms", None, True,
            _at_most("state_at p95 ms", 50, "ms")),
        Row(phase, "ms, max: state_at", "state_at max ms", None, True),
        Row(phase, "peak RSS MB of the phase: the widgets built and moved, state_at", "peak RSS MB", None,
            True, Target("<= 600 MiB at 1M events", lambda el, pe: el["peak RSS MB"] <= 600 * 1.048576,
                         at_scale_only=True)),
    )),
    Row("stream_slider", "ms per move, p50: StreamSlider over one stream of stream_events events",
        "p50 ms", None, True),
    Row("stream_slider", "ms per move, p95: StreamSlider over one stream", "p95 ms", None, True,
        _at_most("p95 ms", 50, "ms")),
    Row("stream_slider", "ms per move, max", "max ms", None, True),
    Row("stream_slider", "seconds to build it (the stream's index; checkpoints from its snapshots)",
        "build s", None, True, _at_most("build s", 1, "s")),
    Row("stream_slider", "seconds to build it without snapshots (checkpoints from one replay)",
        "build s no snapshots", None, True),
    Row("stream_slider", "ms per step, p95: played", "play p95 ms", None, True, _keeps_up("")),
    Row("read_one_stream", "ms, median, 10 events: store.read vs app.events.get", "ms", "ms", True,
        Target("<= 0.5 ms", lambda el, pe: el["ms"] <= 0.5)),
    Row("read_one_stream", "ms, median: state_at of that order (peer: repository.get)", "state_at ms",
        "state_at ms", True, Target("<= 0.5 ms", lambda el, pe: el["state_at ms"] <= 0.5)),
    Row("read_one_stream", "ms, median: floor, one row by primary key, DuckDB vs SQLite", "floor ms",
        "floor ms", True),
    Row("read_one_stream", "ms, median: floor, the same lookup as store.read (the stream's 10 rows by its "
        "index, fetched as tuples)", "stream floor ms", None, True),
    Row("read_one_stream", "store.read ÷ that floor", "x stream floor", None, True),
    Row("read_one_stream", "state_at ÷ that floor", "state_at x stream floor", None, True),
]


# -- running -----------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_size(size: Size, workdir: Path) -> dict:
    """Both sides through the size's phases, interleaved; returns their figures and checks."""
    folders, notes = {}, {}
    for side in SIDES:
        folders[side] = workdir / f"{size.name}-{side}"
        folders[side].mkdir(parents=True, exist_ok=True)
        notes[side] = {}
    phases: dict[str, dict] = {}
    for phase in size.phases:
        phases[phase] = {}
        for side in SIDES:
            log(f"[{size.name}] {phase} / {side} ...")
            result = _in_fresh_process(side, size, folders[side], phase, notes[side])
            notes[side] = result.pop("notes", notes[side])
            if "error" in result:
                log(f"[{size.name}] {phase} / {side} FAILED:\n{result['error']}")
            elif result.get("absent"):
                log(f"[{size.name}] {phase} / {side}: no equivalent on this side")
            else:
                log(f"[{size.name}] {phase} / {side}: {_brief(result['figures'])} "
                    f"({result['wall_s']:.1f} s)")
            phases[phase][side] = result
    peak = {side: max((phases[phase][side].get("peak_rss_mb") or 0.0 for phase in phases), default=0.0)
            for side in SIDES}
    return {"size": asdict(size), "phases": phases, "peak_rss_mb": peak,
            "agree": _agreement(phases), "rows": _rows(size, phases)}


def _in_fresh_process(side: str, size: Size, folder: Path, phase: str, notes: dict) -> dict:
    """One phase of one side in a new interpreter; its answer (or the error that ended it).
    Not a daemon: a phase may start processes of its own (``harness.apart``)."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=run_phase, args=(there, side, size, str(folder), phase, notes))
    process.start()
    there.close()
    try:
        result = here.recv()
    except EOFError:  # the process died without answering (killed, out of memory...)
        result = None
    process.join()
    return result or {"error": f"the {side} process of {phase} ended (exit code {process.exitcode}) "
                               "without an answer"}


def _brief(figures: dict) -> str:
    return ", ".join(f"{key} {fmt(value)}" for key, value in figures.items())


def _agreement(phases: dict) -> dict[str, bool | None]:
    """Per phase: did both sides compute the same answer (None when a side has no answer)?"""
    agree = {}
    for phase, sides in phases.items():
        checks = [sides.get(side, {}).get("check") for side in SIDES]
        agree[phase] = None if None in checks or "error" in str(checks) else checks[0] == checks[1]
    return agree


def _with_memory(result: dict) -> dict:
    """A side's figures for a phase, plus the phase's peak RSS as the figure "peak RSS MB"."""
    return {**result.get("figures", {}), "peak RSS MB": result.get("peak_rss_mb")}


def _rows(size: Size, phases: dict) -> list[dict]:
    rows = []
    for row in ROWS:
        sides = phases.get(row.phase)
        if sides is None:
            continue
        el, pe = (_with_memory(sides[side]) for side in SIDES)
        value, peer = el.get(row.eventlab), pe.get(row.peer) if row.peer else None
        ratio = None
        if value and peer:
            ratio = peer / value if row.lower_is_better else value / peer
        met = None
        if row.target and value is not None and not (row.target.at_scale_only and size.name != "scale"):
            try:
                met = bool(row.target.met(el, pe))
            except (KeyError, TypeError):
                met = None
        rows.append({"phase": row.phase, "figure": row.label, "eventlab": value, "peer": peer,
                     "eventlab_x": ratio, "target": row.target.text if row.target else "",
                     "met": met, "at_scale_only": bool(row.target and row.target.at_scale_only)})
    return rows


# -- reporting ---------------------------------------------------------------------------------

def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(run: dict) -> str:
    """The run as a Markdown table (it reads well in a terminal too)."""
    lines = ["| phase | figure: eventlab vs peer | eventlab | peer | eventlab × | target | met |",
             "|---|---|---:|---:|---:|---|---|"]
    for row in run["rows"]:
        if row["met"] is None:
            met = "at 1M only" if row["at_scale_only"] and row["eventlab"] is not None else ""
        else:
            met = "met" if row["met"] else "**NOT met**"
        ratio = f"{row['eventlab_x']:.2f}×" if row["eventlab_x"] else "—"
        lines.append(f"| {row['phase']} | {row['figure']} | {fmt(row['eventlab'])} | {fmt(row['peer'])} "
                     f"| {ratio} | {row['target']} | {met} |")
    peak = run["peak_rss_mb"]
    lines.append(f"| (largest phase) | peak RSS MB | {fmt(peak['eventlab'])} | {fmt(peak['peer'])} "
                 f"| {peak['peer'] / peak['eventlab']:.2f}× | | |")
    return "\n".join(lines)


def phase_memory(run: dict) -> str:
    """Peak RSS per phase and side, and the wall time of each phase."""
    lines = ["| phase | eventlab peak RSS MB | peer peak RSS MB | eventlab wall s | peer wall s |",
             "|---|---:|---:|---:|---:|"]
    for phase, sides in run["phases"].items():
        el, pe = sides["eventlab"], sides["peer"]
        lines.append(f"| {phase} | {fmt(el.get('peak_rss_mb'))} | {fmt(pe.get('peak_rss_mb'))} "
                     f"| {fmt(el.get('wall_s'))} | {fmt(pe.get('wall_s'))} |")
    return "\n".join(lines)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) / 1024 ** 2 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), None)
    return {"nproc": os.cpu_count(), "memory_gib": round(memory, 1) if memory else None, "cpu": cpu,
            "python": platform.python_version(), "platform": platform.platform(),
            **{name: metadata.version(name) for name in ("eventlab", "duckdb", "eventsourcing")},
            "git": _git("rev-parse", "--short", "HEAD"), "git_dirty": bool(_git("status", "--porcelain"))}


def _git(*args: str) -> str:
    """Read-only git facts about the code measured ('' outside a repository)."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def only(size: Size, phases: list[str] | None) -> Size:
    """The size with only the phases asked for, in its order (append-batched kept: it builds the store)."""
    if not phases:
        return size
    unknown = set(phases) - set(size.phases)
    if unknown:
        raise SystemExit(f"--phases: {', '.join(sorted(unknown))} not among {', '.join(size.phases)}")
    keep = {*phases, "append-batched"}
    return replace(size, phases=tuple(phase for phase in size.phases if phase in keep))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(RUNS), default="smoke")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    parser.add_argument("--no-full", action="store_true", help="with --size scale: only the 1M run")
    parser.add_argument("--workdir", type=Path, help="keep the database files here (default: a temp folder)")
    parser.add_argument("--phases", type=lambda text: text.split(","), metavar="A,B",
                        help="run only these phases (append-batched, which builds the store the others "
                             "read, always runs first)")
    args = parser.parse_args(argv)
    try:
        import eventsourcing  # noqa: F401
    except ImportError:
        log("the peer library is missing: pip install 'eventsourcing==9.5.6' (or pip install -e '.[dev]')")
        return 2
    report = {"workload": "orders-v1", "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="eventlab-bench-") as temp:
        workdir = args.workdir or Path(temp)
        for name in RUNS[args.size][1:] if args.no_full and args.size == "scale" else RUNS[args.size]:
            run = run_size(only(SIZES[name], args.phases), workdir)
            report["runs"].append(run)
            print(f"\n## {name}: {run['size']['n_orders']:,} orders, long stream "
                  f"{run['size']['long_items']:,} events\n\n{table(run)}\n")
            agree = ", ".join(f"{phase} {'yes' if ok else 'NO' if ok is False else '—'}"
                              for phase, ok in run["agree"].items())
            print(f"Same answers on both sides: {agree}\n\n{phase_memory(run)}\n", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.size}-{report['started'][:19].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"results: {path}")
    failed = [f"{run['size']['name']}/{phase}/{side}" for run in report["runs"]
              for phase, sides in run["phases"].items()
              for side, result in sides.items() if "error" in result]
    disagree = [f"{run['size']['name']}/{phase}" for run in report["runs"]
                for phase, ok in run["agree"].items() if ok is False]
    if failed or disagree:
        log(f"failed phases: {failed or 'none'}; phases where the sides disagree: {disagree or 'none'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
