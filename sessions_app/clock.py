"""The one place ceol reads the clock, and the evaluation instant derived from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

# The instants the sweep can evaluate, as ``EVALUABLE_FROM <= t < EVALUABLE_UNTIL``.
#
# From ``t`` the sweep reaches back by the longest active window (``windows.MAX_WINDOW``,
# about two days) and forward by up to 168 h of auto-create horizon plus about 400 days
# of search for the next occurrence (``NEXT_OCCURRENCE_SEARCH``), and it reads every
# instant on wall clocks up to 14 hours either side of UTC. ``datetime`` stops at years 1
# and 9999 (``OverflowError`` past them), so a year's margin at the start and two at the
# end keep all of that arithmetic inside, whatever the lookahead (at most a day).
EVALUABLE_FROM = datetime(2, 1, 1, tzinfo=UTC)
EVALUABLE_UNTIL = datetime(9998, 1, 1, tzinfo=UTC)


def evaluable_range_text() -> str:
    return f"from {EVALUABLE_FROM.date().isoformat()} 00:00 UTC up to {EVALUABLE_UNTIL.date().isoformat()} 00:00 UTC"


def check_evaluable(instant: datetime) -> None:
    """``ValueError`` (one clear line) unless the sweep can evaluate ``instant`` (aware)."""
    try:
        inside = EVALUABLE_FROM <= instant < EVALUABLE_UNTIL
    except OverflowError:  # an offset that pushes the instant past year 1 or 9999
        inside = False
    if not inside:
        raise ValueError(
            f"{instant.isoformat()} is outside the times the sweep can evaluate ({evaluable_range_text()})"
        )


def now() -> datetime:
    return timezone.now()


def lookahead() -> timedelta:
    return getattr(settings, "ACTIVE_SESSION_LOOKAHEAD", timedelta(minutes=1))


def evaluation_instant(now_: datetime | None = None, *, lookahead_: timedelta | None = None) -> datetime:
    """``t = now + ACTIVE_SESSION_LOOKAHEAD`` in UTC: the instant every evaluation tests.

    Cron runs and event hooks both use it, so they never disagree at a boundary.
    Raises ``ValueError`` when ``t`` is outside the evaluable range (``check_evaluable``).
    """
    base = now() if now_ is None else now_
    if timezone.is_naive(base):
        raise ValueError("now must be timezone-aware")
    try:
        t = (base + (lookahead() if lookahead_ is None else lookahead_)).astimezone(UTC)
    except OverflowError:
        t = None
    if t is None:
        raise ValueError(f"{base.isoformat()} is outside the times the sweep can evaluate ({evaluable_range_text()})")
    check_evaluable(t)
    return t
