"""Profile one eventlab phase with cProfile, to see where its time goes.

    python -m benchmarks.profile append-batched --orders 5000
    python -m benchmarks.profile replay_all --size full --sort cumulative --top 30

Phases that read the big store first build it (unprofiled) with append-batched.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.eventlab_side import PHASES
from benchmarks.harness import SIZES, Context

STANDALONE = ("append", "append-batched", "long_stream")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--orders", type=int, help="override the size's number of orders")
    parser.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative, ...")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    if args.orders:
        size = replace(size, n_orders=args.orders)
    with tempfile.TemporaryDirectory(prefix="eventlab-profile-") as folder:
        ctx = Context(size, Path(folder))
        if args.phase not in STANDALONE or (args.phase == "append" and size.append_orders):
            PHASES["append-batched"](ctx)
        profiler = cProfile.Profile()
        profiler.enable()
        result = PHASES[args.phase](ctx)
        profiler.disable()
    print(f"{args.phase} ({size.n_orders:,} orders): {result['figures']}")
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
