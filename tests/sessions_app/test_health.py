"""Health and monitoring: /healthz, ``check_active_sessions --check-health`` and the
admin's sweep page (SPEC 7)."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.urls import reverse

from sessions_app.health import SWEEP_STALE_AFTER, sweep_health
from sessions_app.models import SessionInstance, SweepRun
from tests.site_helpers import EVENING

NOW = EVENING


@pytest.fixture
def frozen_now(clock):
    return clock.set(NOW)


def record_run(*, ago: timedelta, trigger="cron", status="ok", simulated=False, took=timedelta(seconds=2), **counts):
    finished = NOW - ago
    return SweepRun.objects.create(
        started_at=finished - took,
        finished_at=finished,
        evaluated_at=finished - took + timedelta(minutes=1),
        trigger=trigger,
        status=status,
        simulated=simulated,
        **counts,
    )


# --- /healthz -----------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_the_last_successful_scheduled_sweep(client, frozen_now):
    record_run(ago=timedelta(seconds=512), trigger="http", status="partial")
    # None of these is a sign that the cron job runs:
    record_run(ago=timedelta(seconds=10), trigger="event")
    record_run(ago=timedelta(seconds=20), trigger="admin")
    record_run(ago=timedelta(seconds=30), status="failed")
    record_run(ago=timedelta(seconds=40), simulated=True)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "database": "ok",
        "last_sweep_at": (NOW - timedelta(seconds=512)).isoformat(),
        "last_sweep_age_s": 512,
        "sweep": "ok",
    }


@pytest.mark.django_db
def test_healthz_without_any_sweep_and_with_a_stale_one(client, frozen_now):
    assert client.get("/healthz").json() == {
        "database": "ok",
        "last_sweep_at": None,
        "last_sweep_age_s": None,
        "sweep": "none",
    }
    record_run(ago=SWEEP_STALE_AFTER + timedelta(seconds=1))
    response = client.get("/healthz")
    assert response.status_code == 200  # the web service itself is fine
    assert response.json()["sweep"] == "stale"
    assert response.json()["last_sweep_age_s"] == SWEEP_STALE_AFTER.total_seconds() + 1


@pytest.mark.django_db
def test_healthz_is_503_json_when_the_database_is_unreachable(client, frozen_now):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1:9 failed: Connection refused")

    with connection.execute_wrapper(refuse):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["database"] == "unreachable"
    assert body["error"]
    assert "127.0.0.1" not in body["error"]  # no connection details on a public endpoint


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["ceol.example.org"])
def test_healthz_answers_plain_http_on_an_internal_address(frozen_now):
    """Render's health check speaks plain HTTP to the instance; it may not send the public
    host name. Every other page still redirects to HTTPS and checks the host."""
    client = Client()
    internal = "10.0.0.7:10000"
    assert client.get("/healthz", HTTP_HOST=internal).status_code == 200
    assert client.head("/healthz", HTTP_HOST=internal).status_code == 200
    assert client.get("/", HTTP_HOST="ceol.example.org").status_code == 301
    assert client.get("/", HTTP_HOST="ceol.example.org", secure=True).status_code == 200
    assert client.get("/", HTTP_HOST=internal, secure=True).status_code == 400


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]


@pytest.mark.django_db
def test_healthz_is_one_query(client, frozen_now, django_assert_num_queries):
    record_run(ago=timedelta(minutes=3))
    with django_assert_num_queries(1):  # the last successful scheduled SweepRun
        client.get("/healthz")


# --- check_active_sessions --check-health -----------------------------------------------


@pytest.mark.django_db
def test_check_health_passes_after_a_recent_sweep_without_sweeping(frozen_now, make_session, make_instance):
    record_run(ago=timedelta(minutes=14))
    # An instance whose window is open: a sweep would activate it.
    instance = make_instance(make_session(), date(2026, 1, 15))
    out = StringIO()
    call_command("check_active_sessions", "--check-health", stdout=out)
    assert out.getvalue().startswith("Sweep healthy: last successful sweep at 2026-01-15 21:16:00 UTC, 840 s ago")
    assert len(out.getvalue().strip().splitlines()) == 1
    instance.refresh_from_db()
    assert not instance.is_active
    assert SweepRun.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "runs", [[], [{"ago": timedelta(minutes=31)}], [{"ago": timedelta(minutes=1), "trigger": "event"}]]
)
def test_check_health_exits_1_when_no_sweep_succeeded_in_30_minutes(frozen_now, runs):
    for run in runs:
        record_run(**run)
    with pytest.raises(CommandError) as failure:
        call_command("check_active_sessions", "--check-health", stdout=StringIO())
    assert failure.value.returncode == 1
    assert "no successful sweep in the last 30 minutes" in str(failure.value).lower()
    assert "\n" not in str(failure.value)


@pytest.mark.django_db
def test_check_health_exits_1_when_the_database_is_unreachable(frozen_now):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly\nThis probably means...")

    with connection.execute_wrapper(refuse), pytest.raises(CommandError) as failure:
        call_command("check_active_sessions", "--check-health", stdout=StringIO())
    assert failure.value.returncode == 1
    assert str(failure.value) == "Health check failed: server closed the connection unexpectedly"


@pytest.mark.django_db
def test_sweep_health_boundary_is_thirty_minutes(frozen_now):
    record_run(ago=SWEEP_STALE_AFTER)
    assert sweep_health().fresh
    assert not sweep_health(NOW + timedelta(seconds=1)).fresh


# --- the admin's sweep page ---------------------------------------------------------------


@pytest.fixture
def week_of_instances(make_session, make_instance):
    """Two sessions with instances in the next 7 days (some auto-created), one with only
    an instance beyond the week."""
    weekly = make_session(name="Weekly", auto_create_instances=True)
    for day in (16, 19, 22):
        instance = make_instance(weekly, date(2026, 1, day))
        SessionInstance.objects.filter(pk=instance.pk).update(auto_created=day != 22)
    other = make_session(name="Other")
    make_instance(other, date(2026, 1, 17), is_cancelled=True)
    make_instance(make_session(name="Later"), date(2026, 1, 30))
    return weekly, other


@pytest.mark.django_db
def test_sweep_page_shows_health_failures_runs_and_the_week(admin_client, frozen_now, week_of_instances):
    weekly, other = week_of_instances
    record_run(ago=timedelta(minutes=45), activated_count=3, people_moved_count=7, took=timedelta(milliseconds=1500))
    record_run(ago=timedelta(hours=2), status="failed", errors=[{"session_id": None, "error": "Database error: gone"}])
    record_run(ago=timedelta(hours=25), status="failed", errors=[{"session_id": None, "error": "old failure"}])
    response = admin_client.get(reverse("admin:sessions_app_sweeprun_health"))
    assert response.status_code == 200
    context = response.context
    assert not context["health"].fresh and context["health"].age_seconds == 45 * 60
    assert context["failure_count"] == 1
    html = response.content.decode()
    assert 'class="errornote sweep-stale">Sweep stale: no successful sweep in the last 30 minutes' in html
    assert "2700 s ago" in html
    assert "Database error: gone" in html and "old failure" not in html
    assert ">1500<" in html  # the run's duration in ms
    rows = {row["session__name"]: row for row in context["upcoming_page"]}
    assert set(rows) == {"Weekly", "Other"}
    assert (rows["Weekly"]["instances"], rows["Weekly"]["auto_created"], rows["Weekly"]["cancelled"]) == (3, 2, 0)
    assert (rows["Other"]["instances"], rows["Other"]["auto_created"], rows["Other"]["cancelled"]) == (1, 0, 1)
    assert context["upcoming_totals"] == {"instances": 4, "auto_created": 2, "cancelled": 1, "sessions": 2}


@pytest.mark.django_db
def test_sweep_page_flags_nothing_when_the_sweep_is_recent(admin_client, frozen_now):
    record_run(ago=timedelta(minutes=5))
    html = admin_client.get(reverse("admin:sessions_app_sweeprun_health")).content.decode()
    assert "sweep-stale" not in html and 'class="sweep-ok">Sweep healthy: last successful sweep' in html


@pytest.mark.django_db
def test_sweep_page_is_linked_from_the_changelist(admin_client):
    html = admin_client.get(reverse("admin:sessions_app_sweeprun_changelist")).content.decode()
    assert reverse("admin:sessions_app_sweeprun_health") in html


@pytest.mark.django_db
def test_sweep_page_is_staff_only(client, member):
    client.force_login(member.user)
    response = client.get(reverse("admin:sessions_app_sweeprun_health"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_sweep_page_query_count_does_not_grow(
    admin_client, frozen_now, make_session, make_instance, django_assert_num_queries
):
    url = reverse("admin:sessions_app_sweeprun_health")

    def add(count: int) -> None:
        for _ in range(count):
            make_instance(make_session(), date(2026, 1, 17))
            record_run(ago=timedelta(minutes=20), status="failed")

    add(2)
    # user (admin login; the session is in the cache); last successful sweep; failures:
    # count, list; recent runs; the week's totals; the per-session page: count, rows.
    with django_assert_num_queries(8):
        admin_client.get(url)
    add(5)
    with django_assert_num_queries(8):
        response = admin_client.get(url)
    assert len(response.context["upcoming_page"].object_list) == 7
