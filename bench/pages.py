"""The page benchmark (issue 8): build N sessions with ``bench.data``, then measure the
server time (median of several requests, in-process through Django's test client, so
no network), the queries and the bytes of each page and endpoint a visitor uses.

The clock is held at the benchmark's busy Friday evening, after one sweep, so about half
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
from django.utils.http import urlencode

from bench import data
from people.api import LIVE_PAGE_SIZE
from people.models import Person
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

REPEATS = 15
# A few weeks around the busy one are enough for pages (the sweep benchmark builds a year).
WEEKS = (-2, 4)
# Where the benchmark's cities are (``bench.data.ZONES``), for near me: every session is
# placed within about 25 km of its city's centre, spread by its id.
CITY_CENTRES = {
    "Dublin": (53.35, -6.26),
    "London": (51.51, -0.13),
    "Berlin": (52.52, 13.40),
    "New York": (40.71, -74.01),
    "Chicago": (41.88, -87.63),
    "Los Angeles": (34.05, -118.24),
    "St. John's": (47.56, -52.71),
    "Sao Paulo": (-23.55, -46.63),
    "Kolkata": (22.57, 88.36),
    "Kathmandu": (27.72, 85.32),
    "Tokyo": (35.68, 139.69),
    "Sydney": (-33.87, 151.21),
    "Lord Howe Island": (-31.55, 159.08),
    "Auckland": (-36.85, 174.76),
}


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


def place_sessions() -> None:
    """Give every session coordinates near its city's centre (one statement)."""
    centre = "CASE city " + " ".join("WHEN %s THEN %s" for _ in CITY_CENTRES) + " END"
    latitudes = [value for city, (latitude, _) in CITY_CENTRES.items() for value in (city, latitude)]
    longitudes = [value for city, (_, longitude) in CITY_CENTRES.items() for value in (city, longitude)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Session._meta.db_table} SET "
            f"latitude = {centre} + ((id * 7919) %% 9973 - 4986) / 19946.0, "
            f"longitude = {centre} + ((id * 104729) %% 9967 - 4983) / 19934.0",
            [*latitudes, *longitudes],
        )


def settle() -> None:
    """PostgreSQL: the freshly built tables as autovacuum keeps them, before the sweep:
    vacuumed (visibility map set, nothing left for an autovacuum worker to do while the
    pages are measured, which would slow the big size only) and the sessions analysed
    with their coordinates. The statistics of ``is_active`` stay those from before the
    sweep flips it: the busy moment the page queries are written for. Not inside a
    transaction (a test's), where VACUUM cannot run."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Session._meta.db_table}")
        cursor.execute(f"VACUUM {', '.join(data.bench_tables())}")


def _measure(client: Client, name: str, url: str) -> Figure:
    response = client.get(url)  # warm: templates, cached country counts, connection
    times, queries = [], 0
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
    place_sessions()
    progress("sessions placed near their cities' centres")
    settle()
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
    # The last page of the list of every live instance (from its 500th last session; at
    # 1,000 sessions the list is one page).
    last_live = SessionInstance.objects.filter(is_active=True).order_by("-session_id")
    tail = list(last_live.values_list("session_id", flat=True)[: LIVE_PAGE_SIZE + 1])
    last_page_after = tail[LIVE_PAGE_SIZE] if len(tail) > LIVE_PAGE_SIZE else 0
    pages = [
        ("home", "/"),
        ("home search", "/?q=Venue%2012"),
        ("home country", "/?country=IE"),
        ("home city", f"/?{urlencode({'country': middle.country, 'city': middle.city})}"),
        ("home near me", "/?lat=53.35&lon=-6.26"),
        ("session page", f"/sessions/{middle.slug}/"),
        ("instance page", f"/instances/{instance.pk}/"),
        ("person page", f"/people/{person.pk}/"),
        ("/api/live (all, p.1)", "/api/live"),
        ("/api/live (all, last p.)", f"/api/live?after={last_page_after}"),
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
    header = f"{'page':<24}" + "".join(f"{size + ' ms':>14}{'q':>5}{'KB':>9}" for size in sizes)
    if len(runs) > 1:
        header += f"{'time x':>9}"
    lines = [
        f"ceol page benchmark on {runs[0]['backend']} (median of {REPEATS}, logged-in member, busy evening)",
        header,
    ]
    for index, first in enumerate(runs[0]["figures"]):
        row = f"{first['name']:<24}"
        for run in runs:
            figure = run["figures"][index]
            row += f"{figure['median_ms']:>14.1f}{figure['queries']:>5}{figure['bytes'] / 1024:>9.1f}"
        if len(runs) > 1:
            last = runs[-1]["figures"][index]
            row += f"{last['median_ms'] / max(first['median_ms'], 0.001):>9.2f}"
        lines.append(row)
    return "\n".join(lines)
