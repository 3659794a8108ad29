"""Is the house running? The database, and when the sweep last succeeded (SPEC 7, /healthz).

One home for the rule "the sweep is healthy": a cron or HTTP sweep (not simulated) that
ended ``ok`` or ``partial`` within ``SWEEP_STALE_AFTER``. ``/healthz``, the admin's sweep
page and ``check_active_sessions --check-health`` all ask ``sweep_health()``.

Event and admin evaluations do not count: they run whenever someone saves something, so
they would hide a cron job that stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse

from sessions_app import clock
from sessions_app.models import SessionInstance, SweepRun
from sessions_app.windows import MAX_BUFFER_MINUTES

logger = logging.getLogger("ceol.health")

# The cron job runs every 15 minutes: two missed runs in a row make the sweep stale.
SWEEP_STALE_AFTER = timedelta(minutes=30)
HEALTHZ_PATH = "/healthz"

SCHEDULED_TRIGGERS = (SweepRun.Trigger.CRON, SweepRun.Trigger.HTTP)
SUCCEEDED = (SweepRun.Status.OK, SweepRun.Status.PARTIAL)


def successful_scheduled_sweeps():
    """Cron and HTTP sweeps of the real clock that ran (per-session errors allowed)."""
    return SweepRun.objects.filter(trigger__in=SCHEDULED_TRIGGERS, status__in=SUCCEEDED, simulated=False)


@dataclass(frozen=True)
class SweepHealth:
    """When the last successful scheduled sweep finished, and whether that is recent."""

    now: datetime
    last_sweep_at: datetime | None

    @property
    def age(self) -> timedelta | None:
        return None if self.last_sweep_at is None else self.now - self.last_sweep_at

    @property
    def age_seconds(self) -> int | None:
        age = self.age
        return None if age is None else max(0, int(age.total_seconds()))

    @property
    def fresh(self) -> bool:
        age = self.age
        return age is not None and age <= SWEEP_STALE_AFTER

    @property
    def summary(self) -> str:
        """One line for a person or a monitor's log."""
        limit = int(SWEEP_STALE_AFTER.total_seconds() // 60)
        if self.last_sweep_at is None:
            return f"Sweep stale: no successful sweep in the last {limit} minutes (none recorded)."
        when = f"{self.last_sweep_at:%Y-%m-%d %H:%M:%S} UTC, {self.age_seconds} s ago"
        if self.fresh:
            return f"Sweep healthy: last successful sweep at {when}."
        return f"Sweep stale: no successful sweep in the last {limit} minutes (last at {when})."


def sweep_health(now: datetime | None = None) -> SweepHealth:
    """The last successful scheduled sweep (one query); raises ``DatabaseError``."""
    now = clock.now() if now is None else now
    last = successful_scheduled_sweeps().order_by("-started_at").values_list("started_at", "finished_at").first()
    if last is None:
        return SweepHealth(now=now, last_sweep_at=None)
    started_at, finished_at = last
    return SweepHealth(now=now, last_sweep_at=finished_at or started_at)


def healthz(request: HttpRequest) -> HttpResponse:
    """``GET /healthz``: 200 ``{"database": "ok", "last_sweep_at", "last_sweep_age_s",
    "sweep"}``, or 503 with ``"database": "unreachable"``.

    A stale sweep still answers 200 (``"sweep": "stale"``): the web service is healthy and
    restarting it would not restart the cron job; monitors read ``sweep`` or use
    ``check_active_sessions --check-health``.
    """
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"error": f"Method {request.method} not allowed."}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    try:
        health = sweep_health()
    except DatabaseError as exc:
        text = str(exc).strip()
        logger.warning("Health check: database unreachable: %s", text.splitlines()[0] if text else type(exc).__name__)
        response = JsonResponse(
            {
                "database": "unreachable",
                "error": "Database unreachable.",
                "last_sweep_at": None,
                "last_sweep_age_s": None,
            },
            status=503,
        )
    else:
        response = JsonResponse(
            {
                "database": "ok",
                "last_sweep_at": health.last_sweep_at.isoformat() if health.last_sweep_at else None,
                "last_sweep_age_s": health.age_seconds,
                "sweep": "ok" if health.fresh else ("stale" if health.last_sweep_at else "none"),
            }
        )
    response["Cache-Control"] = "no-store"
    return response


class HealthCheckMiddleware:
    """Answer ``/healthz`` before ``CommonMiddleware`` checks ``ALLOWED_HOSTS``.

    A platform's health check may reach the instance by its internal
    address rather than the public host name; the answer depends on no host, builds no
    URL and sets no cookie, so the host check protects nothing here. Sits after
    ``SecurityMiddleware``, which leaves the path on plain HTTP (``SECURE_REDIRECT_EXEMPT``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == HEALTHZ_PATH:
            return healthz(request)
        return self.get_response(request)


RECENT_RUNS_SHOWN = 50
FAILURES_SHOWN = 20
UPCOMING_DAYS = 7
UPCOMING_SESSIONS_PER_PAGE = 100


def recent_failures(now: datetime):
    """Failed sweeps and evaluations of any trigger in the 24 hours before ``now``."""
    return SweepRun.objects.filter(status=SweepRun.Status.FAILED, started_at__gte=now - timedelta(hours=24))


def upcoming_instances(now: datetime):
    """Instances starting in ``[now, now + UPCOMING_DAYS)``.

    The bound on ``active_from`` (a start is at most the longest buffer after it) lets the
    window index serve the range; instances without a known start are not counted.
    """
    end = now + timedelta(days=UPCOMING_DAYS)
    earliest_opening = now - timedelta(minutes=MAX_BUFFER_MINUTES)
    return SessionInstance.objects.filter(
        active_from__gte=earliest_opening, active_from__lt=end, starts_at__gte=now, starts_at__lt=end
    )


def upcoming_by_session(now: datetime):
    """Per session with instances in the next ``UPCOMING_DAYS``: how many, how many were
    auto-created and how many are cancelled, ordered by session name (one grouped query;
    paginate it)."""
    return (
        upcoming_instances(now)
        .values("session_id", "session__name", "session__auto_create_instances")
        .annotate(
            instances=Count("id"),
            auto_created=Count("id", filter=Q(auto_created=True)),
            cancelled=Count("id", filter=Q(is_cancelled=True)),
        )
        .order_by("session__name", "session_id")
    )


def upcoming_totals(now: datetime) -> dict:
    """Totals over the next ``UPCOMING_DAYS`` (one query)."""
    return upcoming_instances(now).aggregate(
        instances=Count("id"),
        auto_created=Count("id", filter=Q(auto_created=True)),
        cancelled=Count("id", filter=Q(is_cancelled=True)),
        sessions=Count("session_id", distinct=True),
    )
