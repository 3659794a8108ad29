"""The sweep's activation rules (SPEC 2-4) at their boundaries, and its guarantees:
one transaction, idempotent, dry run, SweepRun bookkeeping, the advisory lock."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.db import OperationalError, connection

from people import location as people_location
from people.models import Person
from sessions_app.active_sessions import ADVISORY_LOCK_KEY, SWEEP_LOCK_KEY, SweepFailed, update_active_sessions
from sessions_app.models import Session, SessionInstance, SweepRun
from sessions_app.recompute import recompute_windows_if_tz_database_changed

pytestmark = pytest.mark.django_db


def sweep_at(t: datetime, **kwargs) -> dict:
    """Run the sweep so that its evaluation instant (now + lookahead) is ``t``."""
    result = update_active_sessions(t - settings.ACTIVE_SESSION_LOOKAHEAD, **kwargs)
    assert result["evaluated_at"] == t.astimezone(UTC).isoformat()
    return result


def active_ids() -> set[int]:
    return set(SessionInstance.objects.filter(is_active=True).values_list("id", flat=True))


def ids(entries: list[dict]) -> list[int]:
    return [entry["instance_id"] for entry in entries]


def location(person: Person) -> int | None:
    person.refresh_from_db()
    return person.at_active_session_instance_id


BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def test_lookahead_activates_a_21_00_start_at_local_19_59_not_19_58(make_session, make_instance):
    # Berlin in January is UTC+1: the window opens at 20:00 local = 19:00 UTC.
    session = make_session(timezone="Europe/Berlin", start_time=time(21, 0), end_time=time(23, 0))
    instance = make_instance(session, date(2026, 1, 15))
    assert instance.active_from == datetime(2026, 1, 15, 19, 0, tzinfo=UTC)

    early = update_active_sessions(datetime(2026, 1, 15, 19, 58, tzinfo=BERLIN))
    assert early["evaluated_at"] == "2026-01-15T18:59:00+00:00"
    assert early["activated"] == [] and active_ids() == set()

    on_time = update_active_sessions(datetime(2026, 1, 15, 19, 59, tzinfo=BERLIN))
    assert on_time["evaluated_at"] == "2026-01-15T19:00:00+00:00"
    assert on_time["activated"] == [
        {"session_id": session.pk, "instance_id": instance.pk, "session_name": session.name}
    ]
    assert active_ids() == {instance.pk}


def test_window_end_is_half_open(make_session, make_instance):
    session = make_session(timezone="Europe/Berlin", start_time=time(21, 0), end_time=time(23, 0))
    instance = make_instance(session, date(2026, 1, 15))
    until = instance.active_until
    assert until == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # 23:00 local + 60 min, minus one hour

    assert ids(sweep_at(until - timedelta(minutes=1))["activated"]) == [instance.pk]
    result = sweep_at(until)
    assert ids(result["deactivated"]) == [instance.pk]
    assert active_ids() == set()


def test_session_past_midnight_stays_active_into_the_next_day(make_session, make_instance):
    session = make_session(timezone="Europe/Berlin", start_time=time(22, 0), end_time=time(2, 0))
    instance = make_instance(session, date(2026, 1, 15))
    # 02:00 local on the 16th = 01:00 UTC, plus the 60-minute buffer.
    assert instance.active_until == datetime(2026, 1, 16, 2, 0, tzinfo=UTC)

    sweep_at(datetime(2026, 1, 16, 1, 30, tzinfo=BERLIN))
    assert active_ids() == {instance.pk}
    sweep_at(datetime(2026, 1, 16, 2, 59, tzinfo=BERLIN))
    assert active_ids() == {instance.pk}
    sweep_at(datetime(2026, 1, 16, 3, 0, tzinfo=BERLIN))
    assert active_ids() == set()


@pytest.mark.parametrize(
    ("on", "start", "end", "starts_at", "ends_at"),
    [
        # Spring forward: 02:30 does not exist on 8 March 2026 and is shifted to 03:30 EDT.
        (
            date(2026, 3, 8),
            time(2, 30),
            time(4, 0),
            datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
            datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
        ),
        # Fall back: 01:30 happens twice on 1 November 2026; the first (EDT) counts.
        (
            date(2026, 11, 1),
            time(1, 30),
            time(3, 0),
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        ),
    ],
    ids=["gap", "fold"],
)
def test_dst_gap_and_fold_windows(make_session, make_instance, on, start, end, starts_at, ends_at):
    session = make_session(
        timezone="America/New_York",
        start_time=start,
        end_time=end,
        active_buffer_minutes_before=0,
        active_buffer_minutes_after=0,
    )
    instance = make_instance(session, on)
    assert (instance.starts_at, instance.ends_at) == (starts_at, ends_at)

    sweep_at(starts_at - timedelta(minutes=1))
    assert active_ids() == set()
    sweep_at(starts_at)
    assert active_ids() == {instance.pk}
    sweep_at(ends_at - timedelta(minutes=1))
    assert active_ids() == {instance.pk}
    sweep_at(ends_at)
    assert active_ids() == set()


def test_overlapping_instances_latest_start_wins(make_session, make_instance):
    session = make_session(timezone="Europe/Dublin", start_time=time(15, 0), end_time=time(18, 0))
    afternoon = make_instance(session, date(2026, 1, 17))
    evening = make_instance(session, date(2026, 1, 17), start_time=time(17, 0), end_time=time(23, 0))

    sweep_at(datetime(2026, 1, 17, 15, 0, tzinfo=UTC))
    assert active_ids() == {afternoon.pk}
    # From 16:00 (evening's buffer) both qualify: the later start takes over.
    result = sweep_at(datetime(2026, 1, 17, 16, 0, tzinfo=UTC))
    assert ids(result["deactivated"]) == [afternoon.pk]
    assert ids(result["activated"]) == [evening.pk]
    assert active_ids() == {evening.pk}


def test_equal_starts_tie_to_the_higher_id(make_session, make_instance):
    # 02:30 (shifted by the gap) and 03:30 on 8 March 2026 are the same UTC instant.
    session = make_session(timezone="America/New_York", start_time=time(3, 30), end_time=time(5, 0))
    first = make_instance(session, date(2026, 3, 8))
    second = make_instance(session, date(2026, 3, 8), start_time=time(2, 30))
    assert first.starts_at == second.starts_at
    sweep_at(first.starts_at)
    assert active_ids() == {second.pk}


def test_abutting_successor_takes_over_in_the_same_sweep(make_session, make_instance, make_person, make_attendance):
    session = make_session(
        timezone="Europe/Dublin",
        start_time=time(19, 0),
        end_time=time(21, 0),
        active_buffer_minutes_before=0,
        active_buffer_minutes_after=0,
    )
    early = make_instance(session, date(2026, 1, 17))
    late = make_instance(session, date(2026, 1, 17), start_time=time(21, 0), end_time=time(23, 0))
    person = make_person()
    make_attendance(person, early)
    make_attendance(person, late)

    sweep_at(datetime(2026, 1, 17, 20, 59, tzinfo=UTC))
    assert active_ids() == {early.pk}
    assert location(person) == early.pk

    result = sweep_at(datetime(2026, 1, 17, 21, 0, tzinfo=UTC))
    assert ids(result["deactivated"]) == [early.pk]
    assert ids(result["activated"]) == [late.pk]
    assert result["people_moved"] == [{"person_id": person.pk, "from_instance_id": early.pk, "to_instance_id": late.pk}]
    assert location(person) == late.pk


def test_cancelled_while_active_is_deactivated_and_people_re_placed(
    make_session, make_instance, make_person, make_attendance
):
    pub = make_instance(make_session(start_time=time(20, 0), end_time=time(23, 0)), date(2026, 1, 15))
    other = make_instance(make_session(start_time=time(21, 0), end_time=time(23, 0)), date(2026, 1, 15))
    both, only_pub = make_person(), make_person()
    make_attendance(both, pub)
    make_attendance(both, other)
    make_attendance(only_pub, pub)
    t = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
    sweep_at(t)
    assert active_ids() == {pub.pk, other.pk}
    assert (location(both), location(only_pub)) == (pub.pk, pub.pk)  # pub starts first

    SessionInstance.objects.filter(pk=pub.pk).update(is_cancelled=True)  # no hook: the sweep must notice
    result = sweep_at(t + timedelta(minutes=15))
    assert ids(result["deactivated"]) == [pub.pk]
    assert active_ids() == {other.pk}
    assert (location(both), location(only_pub)) == (other.pk, None)
    assert sorted(result["people_moved"], key=lambda m: m["person_id"]) == sorted(
        [
            {"person_id": both.pk, "from_instance_id": pub.pk, "to_instance_id": other.pk},
            {"person_id": only_pub.pk, "from_instance_id": pub.pk, "to_instance_id": None},
        ],
        key=lambda m: m["person_id"],
    )


def test_terminated_today_in_los_angeles_keeps_that_evening(make_session, make_instance):
    session = make_session(
        timezone="America/Los_Angeles",
        start_time=time(19, 0),
        end_time=time(0, 30),
        termination_date=date(2026, 1, 15),
    )
    last = make_instance(session, date(2026, 1, 15))
    after = make_instance(session, date(2026, 1, 16))

    # 20:00 in Los Angeles on the 15th is 04:00 UTC on the 16th: past UTC midnight.
    evening = datetime(2026, 1, 15, 20, 0, tzinfo=LOS_ANGELES)
    assert evening.astimezone(UTC).date() == date(2026, 1, 16)
    sweep_at(evening)
    assert active_ids() == {last.pk}

    # It keeps its whole window past local midnight: 00:30 end + 60 min buffer.
    sweep_at(datetime(2026, 1, 16, 1, 29, tzinfo=LOS_ANGELES))
    assert active_ids() == {last.pk}
    sweep_at(datetime(2026, 1, 16, 1, 30, tzinfo=LOS_ANGELES))
    assert active_ids() == set()

    # The next day's instance never qualifies, even if someone marked it active.
    SessionInstance.objects.filter(pk=after.pk).update(is_active=True)
    for hour in (18, 20, 23):
        sweep_at(datetime(2026, 1, 16, hour, 0, tzinfo=LOS_ANGELES))
        assert active_ids() == set()


def test_invalid_timezone_is_reported_every_sweep_and_its_instance_deactivated(make_session, make_instance):
    broken = make_session(start_time=time(20, 0), end_time=time(23, 0))
    healthy = make_session(start_time=time(21, 0), end_time=time(23, 0))
    broken_instance = make_instance(broken, date(2026, 1, 15))
    healthy_instance = make_instance(healthy, date(2026, 1, 15))
    sweep_at(datetime(2026, 1, 15, 19, 30, tzinfo=UTC))
    assert active_ids() == {broken_instance.pk}

    Session.objects.filter(pk=broken.pk).update(timezone="Mars/Olympus")
    expected_error = {"session_id": broken.pk, "error": "Invalid timezone 'Mars/Olympus'"}
    result = sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    assert result["errors"] == [expected_error]
    assert ids(result["deactivated"]) == [broken_instance.pk]
    assert ids(result["activated"]) == [healthy_instance.pk]
    assert active_ids() == {healthy_instance.pk}

    again = sweep_at(datetime(2026, 1, 15, 21, 15, tzinfo=UTC))
    assert again["errors"] == [expected_error]
    assert active_ids() == {healthy_instance.pk}
    assert SweepRun.objects.latest("id").status == SweepRun.Status.PARTIAL


def test_missed_cron_runs_deactivate_an_instance_active_from_long_ago(make_session, make_instance):
    session = make_session()
    stale = make_instance(session, date(2025, 6, 5))
    SessionInstance.objects.filter(pk=stale.pk).update(is_active=True)
    result = sweep_at(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    assert ids(result["deactivated"]) == [stale.pk]
    assert active_ids() == set()


def test_instance_without_a_window_is_deactivated(make_session, make_instance):
    session = make_session(start_time=None, end_time=None)
    unknown = make_instance(session, date(2026, 1, 15))
    assert unknown.active_from is None
    SessionInstance.objects.filter(pk=unknown.pk).update(is_active=True)
    sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    assert active_ids() == set()


def test_admin_set_is_active_is_reverted_by_the_next_sweep(make_session, make_instance):
    session = make_session()
    tonight = make_instance(session, date(2026, 1, 15))
    tomorrow = make_instance(session, date(2026, 1, 16))
    t = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    sweep_at(t)
    assert active_ids() == {tonight.pk}

    # By hand: tonight off, tomorrow on (a plain save of freshly loaded rows, as the admin does).
    tonight.refresh_from_db()
    tomorrow.refresh_from_db()
    tonight.is_active = False
    tonight.save()
    tomorrow.is_active = True
    tomorrow.save()
    result = sweep_at(t + timedelta(minutes=15))
    assert ids(result["deactivated"]) == [tomorrow.pk]
    assert ids(result["activated"]) == [tonight.pk]
    assert active_ids() == {tonight.pk}


def table_snapshot() -> dict:
    counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    return {
        "counts": counts,
        "active": active_ids(),
        "locations": dict(Person.objects.values_list("id", "at_active_session_instance_id")),
        "sessions": list(Session.objects.values_list("id", "auto_created_until", "auto_create_due_at").order_by("id")),
    }


def busy_evening(make_session, make_instance, make_person, make_attendance) -> tuple[datetime, dict]:
    """Something to activate, deactivate, auto-create and move at t."""
    t = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    ending = make_instance(make_session(start_time=time(17, 0), end_time=time(19, 0)), date(2026, 1, 15))
    starting = make_instance(make_session(), date(2026, 1, 15))
    SessionInstance.objects.filter(pk=ending.pk).update(is_active=True)
    make_session(recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH", auto_create_instances=True, initiation_date=date(2026, 1, 1))
    person = make_person()
    make_attendance(person, starting)
    return t, {"ending": ending, "starting": starting, "person": person}


def test_dry_run_writes_nothing(make_session, make_instance, make_person, make_attendance):
    t, made = busy_evening(make_session, make_instance, make_person, make_attendance)
    before = table_snapshot()
    result = sweep_at(t, dry_run=True)
    assert ids(result["deactivated"]) == [made["ending"].pk]
    assert made["starting"].pk in ids(result["activated"])
    assert result["auto_created"][0]["dates"] == ["2026-01-15"]
    assert result["people_moved"] == [
        {"person_id": made["person"].pk, "from_instance_id": None, "to_instance_id": made["starting"].pk}
    ]
    assert table_snapshot() == before
    assert not SweepRun.objects.exists()


def test_dry_run_reports_would_be_created_instances_without_ids(make_session):
    make_session(recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH", auto_create_instances=True, initiation_date=date(2026, 1, 1))
    result = sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC), dry_run=True)
    assert result["auto_created"][0]["instance_ids"] == [None]
    # The instance would be active at once; no id can be named for it either.
    assert [a["instance_id"] for a in result["activated"]] == [None]


def test_second_sweep_at_the_same_t_changes_nothing(make_session, make_instance, make_person, make_attendance):
    t, _ = busy_evening(make_session, make_instance, make_person, make_attendance)
    first = sweep_at(t)
    assert first["activated"] and first["deactivated"] and first["auto_created"] and first["people_moved"]
    after_first = table_snapshot()
    second = sweep_at(t)
    assert {k: second[k] for k in ("activated", "deactivated", "auto_created", "people_moved", "errors")} == {
        "activated": [],
        "deactivated": [],
        "auto_created": [],
        "people_moved": [],
        "errors": [],
    }
    after_second = table_snapshot()
    after_first["counts"]["sessions_app.SweepRun"] += 1  # the only write: the second run's record
    assert after_second == after_first


def test_each_cron_sweep_records_a_sweep_run(make_session, make_instance, make_person, make_attendance):
    t, _ = busy_evening(make_session, make_instance, make_person, make_attendance)
    sweep_at(t)
    run = SweepRun.objects.get()
    assert (run.trigger, run.status, run.simulated, run.evaluated_at) == ("cron", "ok", True, t)
    assert (run.activated_count, run.deactivated_count, run.auto_created_count, run.people_moved_count) == (2, 1, 1, 1)
    assert run.errors == [] and run.finished_at is not None and run.finished_at >= run.started_at

    Session.objects.filter(pk=make_session().pk).update(timezone="Mars/Olympus")
    sweep_at(t)
    latest = SweepRun.objects.latest("id")
    assert latest.status == "partial" and len(latest.errors) == 1
    assert SweepRun.objects.count() == 2


def test_sweep_runs_older_than_30_days_are_pruned():
    now = datetime.now(UTC)
    old = SweepRun.objects.create(started_at=now - timedelta(days=31), evaluated_at=now, trigger="cron")
    recent = SweepRun.objects.create(started_at=now - timedelta(days=29), evaluated_at=now, trigger="cron")
    update_active_sessions()
    assert not SweepRun.objects.filter(pk=old.pk).exists()
    assert SweepRun.objects.filter(pk=recent.pk).exists()
    assert SweepRun.objects.count() == 2


def test_failure_leaves_nothing_half_done(make_session, make_instance, make_person, make_attendance, monkeypatch):
    t, made = busy_evening(make_session, make_instance, make_person, make_attendance)
    before = table_snapshot()

    def broken(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # The person step runs after activation and auto-create: both must be rolled back.
    monkeypatch.setattr(people_location, "relocate_people", broken)
    with pytest.raises(SweepFailed, match="server closed the connection"):
        sweep_at(t)
    failed = SweepRun.objects.get()
    assert failed.status == SweepRun.Status.FAILED and "server closed" in failed.errors[0]["error"]
    before["counts"]["sessions_app.SweepRun"] += 1
    assert table_snapshot() == before
    assert made["ending"].pk in active_ids()


@pytest.mark.parametrize("size", [3, 30])
def test_activation_and_person_steps_use_a_fixed_number_of_statements(
    size, make_session, make_instance, make_person, make_attendance, django_assert_num_queries
):
    t = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    for _ in range(size):
        ending = make_instance(make_session(start_time=time(17, 0), end_time=time(19, 0)), date(2026, 1, 15))
        starting = make_instance(make_session(), date(2026, 1, 15))
        SessionInstance.objects.filter(pk=ending.pk).update(is_active=True)
        leaving, arriving = make_person(), make_person()
        Person.objects.filter(pk=leaving.pk).update(at_active_session_instance=ending)
        make_attendance(arriving, starting)
        make_attendance(leaving, ending)
    recompute_windows_if_tz_database_changed(now=t)  # the windows match this tz database
    # savepoint; (PostgreSQL: the sweep lock, tried; the live-state lock); the recorded tz
    # database version; the zone names in use; due sessions; winners not yet active;
    # active non-winners; deactivate; activate; the live answers into a temporary table;
    # its index; the people who move (PostgreSQL: computed and written in one statement;
    # SQLite: computed, then written); drop the table; record the run; prune runs; release.
    with django_assert_num_queries(17 if connection.vendor == "postgresql" else 16):
        result = sweep_at(t)
    assert len(result["activated"]) == len(result["deactivated"]) == size
    assert len(result["people_moved"]) == 2 * size


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock exists on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_cron_sweep_skips_when_another_sweep_holds_the_lock(make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15))
    other = second_connection()
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [SWEEP_LOCK_KEY])
        result = sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
        assert result["skipped"] == "another sweep is running"
        assert active_ids() == set() and not SweepRun.objects.exists()
        other.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK_KEY])
        assert ids(sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))["activated"]) == [instance.pk]
    finally:
        other.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock exists on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_cron_sweep_waits_for_a_users_write_instead_of_skipping(make_session, make_instance):
    """A check-in or profile save holds only the live-state lock: the sweep queues behind
    it (here until lock_timeout gives up) instead of reporting another sweep."""
    make_instance(make_session(), date(2026, 1, 15))
    other = second_connection()
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        with pytest.raises(SweepFailed, match="lock timeout"):
            sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def second_connection():
    """Another session on the test database, e.g. to hold the advisory lock (PostgreSQL)."""
    import psycopg

    params = connection.get_connection_params()
    return psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        password=params.get("password"),
        autocommit=True,
    )
