"""Event versioning: old event shapes are upgraded as they are read, never rewritten.

Events are immutable, but the code that reads them changes. When an event type
changes shape, give its class a new ``schema_version`` (``@event_type("OrderPaid",
version=2)``) and register an *upcaster*: a pure function from the data of
version n to the data of version n + 1. Reading an old event runs the chain
(v1 -> v2 -> v3 ...) on the fly; the stored row keeps its original data, so the
hash chain and the audit trail stay intact.

This module is the registry that decoding consults; copying a whole store with
every event upgraded (``migrate``) lives in ``eventlab.upcasting``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from eventlab.errors import UnknownEventTypeError

Upcaster = Callable[[dict], dict]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(data) -> data`` that turns version ``from_version`` of a type into the next.

    >>> @upcaster("OrderPaid", from_version=1)
    ... def add_currency(data):
    ...     return {**data, "currency": "EUR"}
    """

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[type_name, from_version] = fn
        return fn

    return register


@contextlib.contextmanager
def temporary_upcaster(type_name: str, from_version: int, fn: Upcaster) -> Iterator[None]:
    """Register ``fn`` inside a ``with`` block only, then put back what was registered before.

    For checks and tests that try an upcaster without changing what the rest of
    the program reads.
    """
    key = (type_name, from_version)
    before = UPCASTERS.get(key)
    UPCASTERS[key] = fn
    try:
        yield
    finally:
        if before is None:
            UPCASTERS.pop(key, None)
        else:
            UPCASTERS[key] = before


def upcast(type_name: str, data: dict, from_version: int, to_version: int, stream_id: str = "?") -> dict:
    """Run the chain of upcasters from ``from_version`` up to ``to_version``."""
    return chain_for(type_name, from_version, to_version, stream_id)(data)


def chain_for(type_name: str, from_version: int, to_version: int, stream_id: str = "?") -> Upcaster:
    """The composed upgrade from one version to another, checked before any event is read."""
    if from_version > to_version:
        raise UnknownEventTypeError(
            f"event type {type_name!r} version {from_version} in stream {stream_id!r} is newer than "
            f"this code knows (version {to_version}); upgrade the code that defines {type_name}")
    steps = []
    for version in range(from_version, to_version):
        step = UPCASTERS.get((type_name, version))
        if step is None:
            raise UnknownEventTypeError(
                f"event type {type_name!r} version {version} in stream {stream_id!r} cannot be read: "
                f"no upcaster from version {version} to {version + 1} is registered "
                f"(@eventlab.upcasting.upcaster({type_name!r}, from_version={version}))")
        steps.append(step)

    def upgrade(data: dict) -> dict:
        for step in steps:
            data = step(dict(data))
        return data

    return upgrade
