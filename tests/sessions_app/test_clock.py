"""A time the sweep cannot evaluate is one clear line and exit 2 (issue 6, item 7);
every time inside the range is evaluated without an overflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pytest
import recurrence
from django.core.management import CommandError, call_command

from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance, SweepRun
from tests.subprocess_helpers import manage, migrated_sqlite

RANGE = "from 0002-01-01 00:00 UTC up to 9998-01-01 00:00 UTC"


def run(*args: str) -> str:
    out = StringIO()
    call_command("check_active_sessions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("9999-12-31T23:59", "9999-12-31T23:59:00+00:00"),
        ("0001-01-01T00:00", "0001-01-01T00:00:00+00:00"),
        ("0002-01-01T00:00+01:00", "0002-01-01T00:00:00+01:00"),  # 0001-12-31 23:00 UTC
        ("9998-01-01T00:00Z", "9998-01-01T00:00:00+00:00"),
    ],
)
def test_a_time_outside_the_range_is_a_command_error_with_returncode_2(given, shown):
    with pytest.raises(CommandError) as caught:
        run("--simulate-time", given)
    assert caught.value.returncode == 2
    assert str(caught.value) == f"--simulate-time: {shown} is outside the times the sweep can evaluate ({RANGE})"
    assert not SweepRun.objects.exists()


@pytest.mark.django_db
def test_the_lookahead_cannot_push_t_out_of_the_range():
    with pytest.raises(CommandError) as caught:
        run("--simulate-time", "9997-12-31T23:30", "--lookahead-minutes", "60")
    assert caught.value.returncode == 2
    assert "9998-01-01T00:30:00+00:00 is outside the times the sweep can evaluate" in str(caught.value)


def test_the_sweep_itself_refuses_a_t_outside_the_range_with_a_clear_value_error():
    with pytest.raises(ValueError, match="outside the times the sweep can evaluate"):
        clock.evaluation_instant(datetime.max.replace(tzinfo=UTC))
    with pytest.raises(ValueError, match="outside the times the sweep can evaluate"):
        clock.evaluation_instant(datetime(1, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="outside the times the sweep can evaluate"):
        update_active_sessions(datetime(9999, 12, 31, 23, 59, tzinfo=UTC))


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    return migrated_sqlite(tmp_path_factory.mktemp("range"))


@pytest.mark.parametrize("given", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_the_command_run_for_real_prints_one_line_and_exits_2(database, given):
    done = manage("check_active_sessions", "--simulate-time", given, database=database)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"CommandError: --simulate-time: {given}:00+00:00 is outside the times")
    assert done.stdout == ""
    # In range, the same database sweeps fine: the failure above is the range check.
    assert manage("check_active_sessions", "--simulate-time", "9997-12-31T23:00", database=database).returncode == 0


ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Dublin", "America/St_Johns", "Asia/Kathmandu"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "first_date"),
    [
        (datetime(9997, 12, 31, 23, 59, tzinfo=UTC) - clock.lookahead(), date(9997, 12, 1)),
        (datetime(2, 1, 1, tzinfo=UTC), date(1, 12, 20)),
    ],
)
def test_the_edges_of_the_range_are_evaluated_without_overflow(make_session, make_instance, moment, first_date):
    t = moment + clock.lookahead()
    for name in ZONES:
        session = make_session(
            timezone=name,
            recurrence=recurrence.deserialize("RRULE:FREQ=DAILY"),
            initiation_date=first_date,
            start_time=time(23, 0),
            end_time=time(1, 0),
            active_buffer_minutes_before=720,
            active_buffer_minutes_after=720,
            auto_create_instances=True,
            auto_create_hours_ahead=168,
        )
        local_day = t.astimezone(session.zone).date()
        make_instance(session, local_day)
        make_instance(session, local_day - timedelta(days=1))
    Session.objects.update(auto_create_due_at=datetime(1, 6, 1, tzinfo=UTC))
    out = run("--simulate-time", moment.isoformat(), "--full")
    assert "Errors: 0" in out
    run_row = SweepRun.objects.get()
    assert run_row.evaluated_at == t
    # Every session has its live instance and its week of instances ahead.
    assert SessionInstance.objects.filter(is_active=True).count() == len(ZONES)
    assert SessionInstance.objects.filter(auto_created=True).count() >= 6 * len(ZONES)
