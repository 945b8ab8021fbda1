"""Moments in time, always with a time zone: the one place that checks and converts them.

A naive datetime (no ``tzinfo``) names a different instant in every time zone,
so eventlab refuses it wherever a moment goes in (an ``as_of``, an event's
``occurred_at``, a clock's reading) and keeps every stored moment in UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from eventlab.errors import EventLabError, UsageError

UTC_OFFSET = r"(?:[Zz]|[+-]\d\d:?\d\d)$"
"""How a time written as text ends when it says its UTC offset: ``Z``, ``+02:00`` or ``+0200``."""


def has_utc_offset(text: str) -> bool:
    """Whether a time written as text says its UTC offset (a naive one means a different moment per zone)."""
    return re.search(UTC_OFFSET, text) is not None


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


def aware(moment: object, what: str, error: type[EventLabError] = UsageError) -> datetime:
    """``moment`` if it is a timezone-aware datetime; else ``error`` saying what ``what`` should be."""
    if not isinstance(moment, datetime):
        raise error(f"{what} must be a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise error(
            f"{what}={moment!r} has no time zone, so it means a different moment in each time zone; "
            f"pass an aware datetime, e.g. datetime(2024, 6, 1, tzinfo=timezone.utc)"
        )
    return moment


def to_utc(moment: datetime, what: str, error: type[EventLabError] = UsageError) -> datetime:
    """An aware ``moment`` in UTC; a moment near year 1 or 9999 may not exist there (``datetime`` stops)."""
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise error(f"{what} {moment!r}, which is outside years 1 to 9999 in UTC; "
                    f"give a moment inside that range") from None


def stored_utc(moment: datetime | None) -> datetime | None:
    """A moment read back from DuckDB as a naive UTC datetime, made aware again."""
    return None if moment is None else moment.replace(tzinfo=timezone.utc)
