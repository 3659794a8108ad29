"""The one place ceol reads the clock, and the evaluation instant derived from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def lookahead() -> timedelta:
    return getattr(settings, "ACTIVE_SESSION_LOOKAHEAD", timedelta(minutes=1))


def evaluation_instant(now_: datetime | None = None, *, lookahead_: timedelta | None = None) -> datetime:
    """``t = now + ACTIVE_SESSION_LOOKAHEAD`` in UTC: the instant every evaluation tests.

    Cron runs and event hooks both use it, so they never disagree at a boundary.
    """
    base = now() if now_ is None else now_
    if timezone.is_naive(base):
        raise ValueError("now must be timezone-aware")
    return (base + (lookahead() if lookahead_ is None else lookahead_)).astimezone(UTC)
