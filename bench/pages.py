"""The page benchmark (issue 8): build N sessions with ``bench.data``, then measure the
server time (median of several requests, in-process through Django's test client, so
no network), the queries and the bytes of each page and endpoint a visitor uses.

The clock is held at the benchmark's busy Friday evening, after one sweep, so a third
of the sessions are live and people are placed. Requests are made as a logged-in
member (the heavier case: header location, names).
"""

from __future__ import annotations

import statistics
import time as timer
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench import data
from people.models import Person
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

REPEATS = 7
# A few weeks around the busy one are enough for pages (the sweep benchmark builds a year).
WEEKS = (-2, 4)


@dataclass
class Figure:
    name: str
    url: str
    status: int
    median_ms: float
    queries: int
    bytes: int


@contextmanager
def frozen_clock(now):
    original = clock.now
    clock.now = lambda: now
    try:
        yield
    finally:
        clock.now = original


def _measure(client: Client, name: str, url: str) -> Figure:
    client.get(url)  # warm: templates, cached country counts, connection
    times, queries, response = [], 0, None
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as captured:
            started = timer.perf_counter()
            response = client.get(url)
            times.append(timer.perf_counter() - started)
        queries = len(captured)
    return Figure(name, url, response.status_code, statistics.median(times) * 1000, queries, len(response.content))


def measure_pages(*, sessions: int, progress: Callable[[str], None] = lambda m: None) -> dict:
    """Build ``sessions`` sessions in an empty database and measure every page."""
    built = data.build(sessions=sessions, weeks=WEEKS, people_per_session=2, progress=progress)
    now = data.BUSY_NOW
    update_active_sessions(now, full=True)
    progress("swept at the busy instant")
    # A live instance at every size, so that the pages show the same state (and queries).
    instance = SessionInstance.objects.filter(is_active=True).select_related("session").order_by("session_id").first()
    middle = instance.session
    person = (
        Person.objects.filter(at_active_session_instance__isnull=False).order_by("pk").first()
        or Person.objects.order_by("pk").first()
    )
    user = User.objects.create_user("bench-member")
    Person.objects.filter(pk=person.pk).update(user=user)
    fifty = ",".join(
        str(pk) for pk in Session.objects.order_by("pk").values_list("pk", flat=True)[:: max(1, sessions // 50)][:50]
    )
    pages = [
        ("home", "/"),
        ("home search", "/?q=Venue%2012"),
        ("home country", "/?country=IE"),
        ("home near me", "/?lat=53.35&lon=-6.26"),
        ("session page", f"/sessions/{middle.slug}/"),
        ("instance page", f"/instances/{instance.pk}/"),
        ("person page", f"/people/{person.pk}/"),
        ("/api/live (all)", "/api/live"),
        ("/api/live (50 ids)", f"/api/live?sessions={fifty}"),
        ("person endpoint", f"/api/person/{person.pk}/active_session"),
    ]
    cache.clear()
    static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with frozen_clock(now - clock.lookahead()), override_settings(ALLOWED_HOSTS=["testserver"], STORAGES=static):
        client = Client()
        client.force_login(user)
        figures = [_measure(client, name, url) for name, url in pages]
    return {
        "sessions": sessions,
        "backend": connection.vendor,
        "build_s": round(built["build_s"], 1),
        "instances": built["instances"],
        "figures": [asdict(f) for f in figures],
    }


def render_side_by_side(runs: list[dict]) -> str:
    """One row per page, one column group per size, and the ratio of the last to the first."""
    sizes = [f"{run['sessions']:,}" for run in runs]
    header = f"{'page':<20}" + "".join(f"{size + ' ms':>14}{'q':>5}{'KB':>9}" for size in sizes)
    if len(runs) > 1:
        header += f"{'time x':>9}"
    lines = [
        f"ceol page benchmark on {runs[0]['backend']} (median of {REPEATS}, logged-in member, busy evening)",
        header,
    ]
    for index, first in enumerate(runs[0]["figures"]):
        row = f"{first['name']:<20}"
        for run in runs:
            figure = run["figures"][index]
            row += f"{figure['median_ms']:>14.1f}{figure['queries']:>5}{figure['bytes'] / 1024:>9.1f}"
        if len(runs) > 1:
            last = runs[-1]["figures"][index]
            row += f"{last['median_ms'] / max(first['median_ms'], 0.001):>9.2f}"
        lines.append(row)
    return "\n".join(lines)
