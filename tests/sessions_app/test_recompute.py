"""``recompute_windows``: stored windows written around ``save()`` are repaired (SPEC 1, 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from sessions_app import recompute
from sessions_app.models import Session, SessionInstance, TimeZoneDataVersion
from sessions_app.recompute import recompute_windows
from sessions_app.windows import tz_database_version
from tests.site_helpers import utc

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Noon on 2026-01-15: instances dated from the 15th on have not ended, the 14th's has.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WINDOW = ("starts_at", "ends_at", "active_from", "active_until")


# Europe/Dublin in January is UTC+0; 21:00-23:30 with 60-minute buffers.
DUBLIN_15TH = (utc(2026, 1, 15, 21, 0), utc(2026, 1, 15, 23, 30), utc(2026, 1, 15, 20, 0), utc(2026, 1, 16, 0, 30))


def stored(instance: SessionInstance) -> tuple:
    return tuple(SessionInstance.objects.filter(pk=instance.pk).values_list(*WINDOW).get())


@pytest.fixture(autouse=True)
def frozen_clock(clock):
    clock.set(NOW)


@pytest.fixture
def dublin(make_session):
    return make_session(timezone="Europe/Dublin", start_time=time(21, 0), end_time=time(23, 30))


def run(*args: str) -> str:
    out = StringIO()
    call_command("recompute_windows", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_windows_written_around_save_are_fixed(dublin, make_instance):
    shifted = make_instance(dublin, date(2026, 1, 15))
    SessionInstance.objects.filter(pk=shifted.pk).update(starts_at=utc(2026, 1, 15, 3, 0), active_until=None)
    # bulk_create bypasses save(): no window at all.
    [bulk] = SessionInstance.objects.bulk_create(
        [SessionInstance(session=dublin, date=date(2026, 1, 16), start_time=time(20, 0), end_time=time(1, 0))]
    )
    raw = make_instance(dublin, date(2026, 1, 17))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SessionInstance._meta.db_table} SET start_time = %s WHERE id = %s", ["19:30:00", raw.pk]
        )
    assert stored(bulk) == (None, None, None, None)

    out = run()

    assert out.strip() == "3 instance windows recomputed (3 instances not ended checked)"
    assert stored(shifted) == DUBLIN_15TH
    # 20:00 to 01:00 the next day; buffers 60 minutes each side.
    assert stored(bulk) == (utc(2026, 1, 16, 20), utc(2026, 1, 17, 1), utc(2026, 1, 16, 19), utc(2026, 1, 17, 2))
    assert stored(raw) == (
        utc(2026, 1, 17, 19, 30),
        utc(2026, 1, 17, 23, 30),
        utc(2026, 1, 17, 18, 30),
        utc(2026, 1, 18, 0, 30),
    )
    assert run().startswith("0 instance windows recomputed")


def test_session_fields_changed_with_update_move_the_windows(dublin, make_instance):
    instance = make_instance(dublin, date(2026, 1, 15))
    Session.objects.filter(pk=dublin.pk).update(
        timezone="America/New_York", active_buffer_minutes_before=30, active_buffer_minutes_after=0
    )
    run()
    # 21:00-23:30 in New York (UTC-5 in January).
    assert stored(instance) == (
        utc(2026, 1, 16, 2),
        utc(2026, 1, 16, 4, 30),
        utc(2026, 1, 16, 1, 30),
        utc(2026, 1, 16, 4, 30),
    )


def test_a_window_one_microsecond_off_is_found_and_fixed_exactly(dublin, make_instance):
    instance = make_instance(dublin, date(2026, 1, 15))
    SessionInstance.objects.filter(pk=instance.pk).update(ends_at=DUBLIN_15TH[1] + timedelta(microseconds=1))
    assert run().startswith("1 instance windows recomputed")
    assert stored(instance) == DUBLIN_15TH
    assert run().startswith("0 instance windows recomputed")


def test_ended_instances_are_not_touched(dublin, make_instance):
    ended = make_instance(dublin, date(2026, 1, 14))
    wrong = (utc(2026, 1, 14, 1), utc(2026, 1, 14, 2), utc(2026, 1, 14, 0), utc(2026, 1, 14, 3))
    SessionInstance.objects.filter(pk=ended.pk).update(**dict(zip(WINDOW, wrong, strict=True)))

    assert run().startswith("0 instance windows recomputed (0 instances not ended checked)")
    assert stored(ended) == wrong


def test_an_instance_with_no_stored_end_counts_as_not_ended(dublin):
    # An imported past instance without a window: it has never had one to keep.
    [old] = SessionInstance.objects.bulk_create(
        [SessionInstance(session=dublin, date=date(2025, 6, 1), start_time=time(21), end_time=time(23))]
    )
    run()
    # Dublin in June is UTC+1.
    assert stored(old) == (utc(2025, 6, 1, 20), utc(2025, 6, 1, 22), utc(2025, 6, 1, 19), utc(2025, 6, 1, 23))


def test_a_date_at_the_edge_of_the_calendar_gets_no_window_and_stops_nothing(dublin, make_instance):
    # 23:00 to 01:00 on 9999-12-31 would end in year 10000.
    [edge] = SessionInstance.objects.bulk_create(
        [SessionInstance(session=dublin, date=date(9999, 12, 31), start_time=time(23), end_time=time(1))]
    )
    SessionInstance.objects.filter(pk=edge.pk).update(active_from=utc(2026, 1, 1))
    fixable = make_instance(dublin, date(2026, 1, 15))
    SessionInstance.objects.filter(pk=fixable.pk).update(starts_at=None)

    assert run().startswith("2 instance windows recomputed")
    assert stored(edge) == (None, None, None, None)
    assert stored(fixable) == DUBLIN_15TH


def test_dry_run_writes_nothing(dublin, make_instance):
    instance = make_instance(dublin, date(2026, 1, 15))
    SessionInstance.objects.filter(pk=instance.pk).update(starts_at=None, ends_at=None)

    out = run("--dry-run")

    assert out.strip() == "1 instance windows would be recomputed (1 instances not ended checked)"
    assert stored(instance) == (None, None, DUBLIN_15TH[2], DUBLIN_15TH[3])
    assert not TimeZoneDataVersion.objects.exists()


def test_an_invalid_timezone_leaves_no_window_and_the_rest_is_fixed(dublin, make_session, make_instance):
    broken = make_instance(dublin, date(2026, 1, 15))
    Session.objects.filter(pk=dublin.pk).update(timezone="Mars/Olympus")
    other = make_instance(make_session(timezone="Europe/Dublin"), date(2026, 1, 15))
    SessionInstance.objects.filter(pk=other.pk).update(active_from=None)

    assert run().startswith("2 instance windows recomputed")

    # As SessionInstance.refresh_window() does: no valid zone, no window.
    assert stored(broken) == (None, None, None, None)
    assert stored(other) == DUBLIN_15TH


def test_the_run_records_the_tz_database_version_once(dublin, make_instance):
    make_instance(dublin, date(2026, 1, 15))
    run()
    run()
    assert list(TimeZoneDataVersion.objects.values_list("version", "recorded_at")) == [(tz_database_version(), NOW)]


def test_each_page_costs_one_read_and_one_write_if_it_changed(
    monkeypatch, dublin, make_instance, django_assert_num_queries
):
    monkeypatch.setattr(recompute, "BATCH_SIZE", 2)
    instances = [make_instance(dublin, date(2026, 1, 15) + timedelta(days=n)) for n in range(5)]
    SessionInstance.objects.filter(pk__in=[instances[0].pk, instances[4].pk]).update(starts_at=None)
    TimeZoneDataVersion.objects.create(version=tz_database_version(), recorded_at=NOW)
    pg = connection.vendor == "postgresql"
    # Per page of at most 2 (three pages, then an empty one): SAVEPOINT, (PostgreSQL: the
    # advisory lock), SELECT the page, UPDATE its rows that differ (pages 1 and 3 only),
    # RELEASE. Then the recorded version (unchanged, so nothing is inserted).
    with django_assert_num_queries(4 * (3 + pg) + 2 + 1):
        result = recompute_windows(now=NOW)
    assert result == {"checked": 5, "recomputed": 2}
    assert stored(instances[4])[0] == utc(2026, 1, 19, 21)


def test_unreachable_database_exits_1_with_one_clear_line():
    environment = {
        **os.environ,
        "SECRET_KEY": "test-only",
        "DJANGO_SETTINGS_MODULE": "ceol.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "recompute_windows"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: Recomputing windows failed: Database error:")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock exists on PostgreSQL only")
@pytest.mark.django_db(transaction=True)  # the set-up's saves take the lock too: commit them
def test_the_command_waits_for_the_live_state_lock_before_writing(dublin, make_instance):
    import psycopg

    from sessions_app.locks import ADVISORY_LOCK_KEY

    instance = make_instance(dublin, date(2026, 1, 15))
    SessionInstance.objects.filter(pk=instance.pk).update(starts_at=None)
    params = connection.get_connection_params()
    other = psycopg.connect(  # another session on the test database, to hold the lock
        dbname=connection.settings_dict["NAME"],
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        password=params.get("password"),
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 300")
        try:
            with pytest.raises(CommandError) as caught:
                run()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
        assert caught.value.returncode == 1
        assert "statement timeout" in str(caught.value)
        assert stored(instance)[0] is None
        other.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        assert run().startswith("1 instance windows recomputed")
    finally:
        other.close()
