"""The shop's loyalty club: members with personal data, sealed per person so that they can be forgotten.

A member's name and e-mail are personal data; their points and country are
not (here). Commands carry the personal values already sealed
(``PersonalData.seal``), so the rules stay pure functions and the log never
holds the plaintext:

>>> from eventlab import EventStore, handle, replay
>>> from eventlab.application.shredding import KeyStore, PersonalData
>>> store, pii, ada = EventStore(), PersonalData(KeyStore()), stream_id("m1")
>>> _ = handle(store, decider, ada, Join("m1", pii.seal(ada, "Ada Lovelace"),
...                                      pii.seal(ada, "ada@example.org"), "UK"))
>>> replay(pii.reveal_all(store.read(ada)), decider).name
'Ada Lovelace'

Streams are ``member-<member_id>``, and the person a value is sealed for is that
stream id, so forgetting the member destroys one key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eventlab.application.shredding import is_sealed
from eventlab.core.decider import Decider, Summary
from eventlab.core.events import event_type
from eventlab.errors import CommandRejected


@dataclass(frozen=True)
class Join:
    member_id: str
    name: str   # sealed
    email: str  # sealed
    country: str


@dataclass(frozen=True)
class ChangeEmail:
    member_id: str
    email: str  # sealed


@dataclass(frozen=True)
class EarnPoints:
    member_id: str
    points: int


@event_type("MemberJoined", color="#5254a3")
@dataclass(frozen=True)
class MemberJoined:
    member_id: str
    name: str
    email: str
    country: str


@event_type("EmailChanged", color="#9ecae1")
@dataclass(frozen=True)
class EmailChanged:
    member_id: str
    email: str


@event_type("PointsEarned", color="#a1d99b")
@dataclass(frozen=True)
class PointsEarned:
    member_id: str
    points: int


@dataclass(frozen=True)
class Member:
    """A member as the club sees them: ``joined`` False before the first event."""

    member_id: str = ""
    name: str = ""
    email: str = ""
    country: str = ""
    points: int = 0
    joined: bool = False


def evolve(state: Member, event: object) -> Member:
    match event:
        case MemberJoined(member_id, name, email, country):
            return Member(member_id, name, email, country, 0, True)
        case EmailChanged(email=email):
            return replace(state, email=email)
        case PointsEarned(points=points):
            return replace(state, points=state.points + points)
    return state


def decide(command: object, state: Member) -> list[object]:
    """The club's rules; personal values must arrive sealed, so plaintext never reaches the log."""
    match command:
        case Join(member_id, name, email, country):
            if state.joined:
                raise CommandRejected(f"member {member_id} has joined already", command)
            _require_sealed(command, name=name, email=email)
            return [MemberJoined(member_id, name, email, country)]
        case ChangeEmail(member_id, email):
            _require_joined(command, state)
            _require_sealed(command, email=email)
            return [EmailChanged(member_id, email)]
        case EarnPoints(member_id, points):
            _require_joined(command, state)
            if points <= 0:
                raise CommandRejected(f"points must be positive, got {points}", command)
            return [PointsEarned(member_id, points)]
    raise CommandRejected(f"the members decider does not know the command {command!r}", command)


def _require_joined(command: ChangeEmail | EarnPoints, state: Member) -> None:
    if not state.joined:
        raise CommandRejected(f"member {command.member_id} has not joined", command)


def _require_sealed(command: object, **values: str) -> None:
    plain = [name for name, value in values.items() if not is_sealed(value)]
    if plain:
        raise CommandRejected(f"{', '.join(plain)} must be sealed before it reaches the log: pass "
                              f"pii.seal(stream_id, value), not the plain text", command)


def stream_id(member_id: str) -> str:
    """The stream, and the person whose key seals the member's data."""
    return f"member-{member_id}"


decider = Decider(Member(), evolve, decide, name="members", category="member", summary=Summary(by="country"))
