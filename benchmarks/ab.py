"""Old code against new on the same files, taking turns: did a change slow a figure, or the machine?

    python -m benchmarks.ab ../old-checkout            # old = that checkout, new = this one
    python -m benchmarks.ab ../old-checkout --rounds 5

The full suite runs each phase once per side, and this shared machine drifts by 10-20 %
between runs (a bare DuckDB INSERT, which no eventlab code touches, moves as much). Here
the figures a user feels most (a state_at loop, states_at in SQL, one stream read, slider
moves, a 100,001-event stream cold, a snapshot) are timed in fresh processes, old and new
in turn, on the same store files; the table gives the median of the rounds per side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = Path(__file__).with_name("ab_probe.py")


def run(checkout: Path, workdir: Path) -> dict[str, float]:
    """One probe in a fresh process, importing eventlab from ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    result = subprocess.run([sys.executable, str(PROBE), str(workdir)], env=env, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="a checkout of the old code (e.g. a git worktree)")
    parser.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        rounds: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            rounds["old"].append(run(args.old.resolve(), Path(workdir)))
            rounds["new"].append(run(args.new.resolve(), Path(workdir)))
    print(f"| figure | old ({args.old}) | new ({args.new}) | change |\n|---|---:|---:|---:|")
    for figure in rounds["old"][0]:
        old, new = (statistics.median(r[figure] for r in rounds[side]) for side in ("old", "new"))
        print(f"| {figure} | {old:,.4g} | {new:,.4g} | {100 * (new - old) / old:+.0f} % |")


if __name__ == "__main__":
    main()
