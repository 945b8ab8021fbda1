"""Notebook 7's exercise: a snapshot policy that holds when appends write several events at once."""

from __future__ import annotations

import random
from collections.abc import Callable

from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten

EVERY = 100
"""The policy's promise: after any append, at most this many events past the newest snapshot."""


def appends(seed: int, length: int = 3_000) -> list[tuple[int, int]]:
    """(version before, version after) of each append to a long stream; each writes 1 to 3 events."""
    rng, version, result = random.Random(seed), 0, []
    while version < length:
        after = version + rng.choice([1, 1, 2, 3])
        result.append((version, after))
        version = after
    return result


def check_snapshot_policy(policy: Callable[[int, int], bool]) -> Verdict:
    """``policy(before, after)``: snapshot after an append that took a stream from ``before`` to ``after``?

    Passes when no append ever leaves more than EVERY events past the newest
    snapshot, and the policy takes no more than one snapshot per EVERY events.
    """
    for seed in (1, 2, 3):
        history = appends(seed)
        snapshot, taken = 0, 0
        for before, after in history:
            try:
                take = policy(before, after)
            except NotImplementedError:
                return unwritten("policy")
            except Exception as error:  # a learner's function may fail in any way
                return not_yet(f"policy({before}, {after}) fails: {type(error).__name__}: {error}")
            if take:
                snapshot, taken = after, taken + 1
            if after - snapshot > EVERY:
                jumped = [(b, a) for b, a in history if b < a and b // EVERY < a // EVERY and a % EVERY]
                return not_yet(
                    f"at version {after} the newest snapshot is at {snapshot}: a replay would apply "
                    f"{after - snapshot} events. An append can write several events and jump over a "
                    f"multiple of {EVERY} (here {jumped[0][0]} -> {jumped[0][1]}), so after % {EVERY} == 0 "
                    f"misses it; ask whether the append crossed one: before // {EVERY} < after // {EVERY}")
        if taken > history[-1][1] // EVERY + 1:
            return not_yet(f"{taken} snapshots for {history[-1][1]} events in {len(history)} appends: a "
                           f"snapshot is a write as costly as an append, take one per {EVERY} events")
    return solved(f"never more than {EVERY} events to replay, one snapshot per {EVERY} events, "
                  f"on three long streams")
