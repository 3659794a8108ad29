"""``check_active_sessions`` smoke tests: output format, options, exit codes (SPEC 6)."""

import json
import os
import re
import subprocess
import sys
from datetime import date, time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sessions_app.models import SessionInstance, SweepRun

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[4]
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - "


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("check_active_sessions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def tonight(make_session, make_instance):
    session = make_session(
        name="Mueller Monday", timezone="Europe/Berlin", start_time=time(21, 0), end_time=time(23, 0)
    )
    return make_instance(session, date(2026, 1, 15))


def test_log_format(tonight):
    out, err = run("--simulate-time", "2026-01-15T19:59+01:00")
    lines = out.splitlines()
    expected = [
        "Starting active session check",
        "Evaluating at: 2026-01-15T19:00:00+00:00",
        "Activated: 1 sessions",
        f"  - Mueller Monday (session_id={tonight.session_id}, instance_id={tonight.pk})",
        "Deactivated: 0 sessions",
        "Auto-created: 0 instances",
        "People moved: 0",
        "Errors: 0",
    ]
    assert len(lines) == len(expected)
    for line, text in zip(lines, expected, strict=True):
        if text.startswith("  - "):
            assert line == text
        else:
            assert re.fullmatch(STAMP + re.escape(text), line), line
    assert err == ""
    tonight.refresh_from_db()
    assert tonight.is_active


def test_errors_are_counted_and_listed_on_stderr(tonight):
    from sessions_app.models import Session

    Session.objects.filter(pk=tonight.session_id).update(timezone="Mars/Olympus")
    out, err = run("--simulate-time", "2026-01-15 19:00")
    assert re.search(STAMP + "Errors: 1$", out, re.M)
    assert err.strip() == f"- session_id={tonight.session_id}: Invalid timezone 'Mars/Olympus'"


def test_json_prints_only_the_result(tonight):
    out, _ = run("--json", "--simulate-time", "2026-01-15 18:59")
    result = json.loads(out)
    assert result["evaluated_at"] == "2026-01-15T19:00:00+00:00"
    assert result["activated"] == [
        {"session_id": tonight.session_id, "instance_id": tonight.pk, "session_name": "Mueller Monday"}
    ]
    assert set(result) >= {"deactivated", "auto_created", "people_moved", "errors"}


@pytest.mark.parametrize(
    ("value", "evaluated_at"),
    [
        ("2026-01-15 19:00", "2026-01-15T19:01:00+00:00"),  # no offset: UTC
        ("2026-01-15T19:00", "2026-01-15T19:01:00+00:00"),
        ("2026-01-15T19:00+01:00", "2026-01-15T18:01:00+00:00"),
        ("2026-01-15T19:00:00Z", "2026-01-15T19:01:00+00:00"),
    ],
)
def test_simulate_time_with_and_without_offset(value, evaluated_at):
    out, _ = run("--json", "--simulate-time", value)
    assert json.loads(out)["evaluated_at"] == evaluated_at
    run_row = SweepRun.objects.get()
    assert run_row.simulated and run_row.evaluated_at.isoformat() == evaluated_at


def test_lookahead_minutes_overrides_the_setting():
    out, _ = run("--json", "--simulate-time", "2026-01-15 19:00", "--lookahead-minutes", "15")
    assert json.loads(out)["evaluated_at"] == "2026-01-15T19:15:00+00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--simulate-time", "garbage"), "--simulate-time: 'garbage' is not an ISO 8601 date and time"),
        (("--simulate-time", "2026-02-30 19:00"), "--simulate-time: '2026-02-30 19:00' is not an ISO 8601"),
        (("--simulate-time", ""), "--simulate-time: '' is not an ISO 8601"),
        (("--lookahead-minutes", "soon"), "--lookahead-minutes: 'soon' is not a whole number from 0 to 1440"),
        (("--lookahead-minutes", "1441"), "--lookahead-minutes: '1441' is not a whole number"),
    ],
)
def test_bad_arguments_are_a_command_error_with_returncode_2(args, message):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(message)
    assert not SweepRun.objects.exists()


def test_dry_run_writes_nothing(tonight):
    out, _ = run("--dry-run", "--simulate-time", "2026-01-15 19:00")
    assert "Starting active session check (dry run)" in out
    assert "Activated: 1 sessions" in out
    assert not SessionInstance.objects.filter(is_active=True).exists()
    assert not SweepRun.objects.exists()


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SECRET_KEY": "test-only", "DJANGO_SETTINGS_MODULE": "ceol.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check_active_sessions", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_garbage_simulate_time_exits_2_with_one_clear_line():
    done = manage("--simulate-time", "garbage")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "CommandError: --simulate-time: 'garbage' is not an ISO 8601 date and time (e.g. 2026-01-15T19:00+01:00)"
    ]


def test_bad_lookahead_exits_2():
    done = manage("--lookahead-minutes", "-5")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_unreachable_database_exits_1_with_one_clear_line():
    done = manage(DATABASE_URL="postgres://postgres@127.0.0.1:1/nope")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: Active session check failed: Database error:")
    assert "Connection refused" in lines[0] or "connection" in lines[0].lower()


def test_every_sweep_heals_and_full_is_accepted(make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15), is_cancelled=True)
    call_command("check_active_sessions", simulate_time="2026-01-15T21:00Z", stdout=StringIO())
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=False)  # no hooks
    out = StringIO()
    call_command("check_active_sessions", simulate_time="2026-01-15T21:01Z", stdout=out)
    assert f"instance_id={instance.pk})" in out.getvalue()  # the very next sweep, not an hour later
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=True)
    out = StringIO()
    call_command("check_active_sessions", "--full", simulate_time="2026-01-15T21:02Z", stdout=out)
    assert "Deactivated: 1 sessions" in out.getvalue()
    assert SweepRun.objects.latest("pk").full
