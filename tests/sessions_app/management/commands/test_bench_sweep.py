"""``bench_sweep`` at a tiny size: the JSON shape, the implementations agreeing, the
statement counts, and the generator's windows matching ``SessionInstance.save()``.
These check the benchmark works; they time nothing."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bench import data
from people.models import Attendance, Person
from sessions_app.models import Session, SessionInstance, SessionSchedule

TIMING_KEYS = {"busy_s", "steady_s", "busy_statements", "steady_statements"}


def run_bench(*args: str) -> tuple[dict, str]:
    out, err = StringIO(), StringIO()
    call_command("bench_sweep", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


@pytest.mark.django_db
def test_json_shape_same_state_and_counted_statements():
    result, progress = run_bench("--sessions", "30", "--json")

    postgres = connection.vendor == "postgresql"
    assert set(result) == {
        "sessions",
        "backend",
        "same_state",
        "project",
        "reference",
        "limit",
        "ratio_busy",
        "ratio_steady",
    }
    assert result["sessions"] == 30
    assert result["backend"] == ("postgresql" if postgres else "sqlite")
    assert result["same_state"] is True
    for name in ("project", "reference") + (("limit",) if postgres else ()):
        timing = result[name]
        assert set(timing) == TIMING_KEYS
        assert timing["busy_s"] > 0 and timing["steady_s"] > 0
        # The busy sweep writes (activations, deactivations, moves); the steady one only reads.
        # The limit sends the same three statements either way (they write only changes).
        if name == "limit":
            assert timing["busy_statements"] == timing["steady_statements"] > 0
        else:
            assert timing["busy_statements"] > timing["steady_statements"] > 0
    if postgres:
        # Deactivate, activate and the person statement, every time (a healing sweep).
        assert result["limit"]["steady_statements"] == 3 + 2  # + SAVEPOINT / RELEASE in the test's transaction
    else:
        assert result["limit"] is None
    # The per-session reference reads each session's instances at least once.
    assert result["reference"]["steady_statements"] > 30
    assert result["ratio_busy"] == pytest.approx(result["reference"]["busy_s"] / result["project"]["busy_s"])
    assert result["ratio_steady"] == pytest.approx(result["reference"]["steady_s"] / result["project"]["steady_s"])
    # Progress went to stderr, and the busy sweep really changed something.
    assert "[build" in progress and "project: busy" in progress
    assert "'activated': 0, 'deactivated': 0, 'people_moved': 0}; steady" not in progress
    assert Session.objects.count() == 30
    assert SessionInstance.objects.count() == 30 * 53
    assert Person.objects.count() == 300


@pytest.mark.django_db
def test_refuses_a_database_with_sessions_unless_reset(make_session, django_user_model):
    make_session(name="Real session")
    user = django_user_model.objects.create(username="kept")
    with pytest.raises(CommandError, match="--reset"):
        call_command("bench_sweep", "--sessions", "5", stdout=StringIO(), stderr=StringIO())
    assert Session.objects.filter(name="Real session").exists()

    result, _ = run_bench("--sessions", "5", "--json", "--reset", "--skip-reference")
    assert result["same_state"] is True
    assert result["reference"] is None and result["ratio_busy"] is None and result["ratio_steady"] is None
    assert not Session.objects.filter(name="Real session").exists()
    assert Session.objects.count() == 5
    assert django_user_model.objects.filter(pk=user.pk).exists()  # auth users are left alone


@pytest.mark.django_db
def test_table_output_names_every_implementation():
    out = StringIO()
    call_command("bench_sweep", "--sessions", "4", "--skip-reference", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "skipped (--skip-reference)" in text
    assert "same_state: true" in text
    assert ("project / limit" in text) == (connection.vendor == "postgresql")


@pytest.mark.django_db
def test_generated_windows_are_what_save_would_store():
    data.build(sessions=30, people_per_session=2)
    instances = list(SessionInstance.objects.select_related("session"))
    assert len(instances) == 30 * 53
    for instance in instances:
        stored = instance.window_values()
        instance.refresh_window()
        assert instance.window_values() == stored, instance.pk
    assert {s.timezone for s in Session.objects.all()} >= {
        "Europe/Dublin",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Sydney",
    }
    # Two busy-week answers and one for last week per person; a quarter of the first are maybe.
    assert Attendance.objects.count() == 60 * 3
    assert Attendance.objects.filter(status="maybe", checked_in_at__isnull=False).count() == 0
    assert Attendance.objects.filter(status="yes", checked_in_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_second_slot_gives_every_session_a_slot_with_its_own_instances_and_the_same_figures():
    result, progress = run_bench("--sessions", "30", "--json", "--second-slot")
    assert result["same_state"] is True
    assert set(result["project"]) == TIMING_KEYS
    assert result["project"]["busy_statements"] > result["project"]["steady_statements"] > 0
    assert "second-slot instances: 1,590 / 1,590" in progress
    assert SessionSchedule.objects.count() == 30
    assert SessionInstance.objects.filter(schedule__isnull=True).count() == 30 * 53
    assert SessionInstance.objects.filter(schedule__isnull=False).count() == 30 * 53
    # Each second slot starts at another time than its session's main slot, in its zone.
    for slot in SessionSchedule.objects.select_related("session"):
        assert slot.start_time != slot.session.start_time
        instance = slot.instances.earliest("date")
        assert instance.local_starts is not None and instance.local_starts.time() == slot.start_time


@pytest.mark.django_db
def test_second_slot_table_names_the_slots():
    out = StringIO()
    call_command("bench_sweep", "--sessions", "6", "--second-slot", "--skip-reference", stdout=out, stderr=StringIO())
    assert "6 sessions (12 time slots)" in out.getvalue()
