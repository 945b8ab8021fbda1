"""What a check says: solved, or not yet and why, in one line.

A check never raises: it returns a ``Verdict``, so a notebook with an
unsolved exercise still runs top to bottom (and nbval sees no error).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What a check found: true when the exercise is solved; shows itself as one line."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("✅ " if self.ok else "❌ Not yet: ") + self.message


def solved(message: str) -> Verdict:
    """The exercise is solved; ``message`` says what the check saw."""
    return Verdict(True, message)


def not_yet(message: str) -> Verdict:
    """The exercise is not solved; ``message`` names the mistake and the way out."""
    return Verdict(False, message)


def unwritten(what: str) -> Verdict:
    """The learner's placeholder is still there."""
    return not_yet(f"{what} still raises NotImplementedError: replace it with your code")
