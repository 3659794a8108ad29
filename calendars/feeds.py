"""Which instances a calendar feed lists (one rule for both feeds)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

DAYS_BACK = timedelta(days=30)
AHEAD = timedelta(weeks=8)


def feed_range(*, now: datetime, horizon: datetime | None = None) -> tuple[datetime, datetime]:
    """From 30 days back to 8 weeks ahead, or to the auto-create horizon when that is later
    (it never is today: the horizon is at most 168 hours ahead)."""
    until = now + AHEAD
    if horizon is not None and horizon > until:
        until = horizon
    return now - DAYS_BACK, until


def in_feed_range(*, since: datetime, until: datetime, prefix: str = "") -> Q:
    """A filter on instances (``prefix`` e.g. ``"session_instance__"``) starting in
    ``[since, until)``; an instance without known times counts by its local date."""
    return Q(**{f"{prefix}starts_at__gte": since, f"{prefix}starts_at__lt": until}) | Q(
        **{
            f"{prefix}starts_at__isnull": True,
            f"{prefix}date__gte": since.date(),
            f"{prefix}date__lte": until.date(),
        }
    )
