"""Auto-create (SPEC 4) through the sweep: which occurrences become instances, when, and
what a schedule change does to them."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from sessions_app.active_sessions import auto_create_scheduled_instances, update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db

WEEKLY_THURSDAY = "RRULE:FREQ=WEEKLY;BYDAY=TH"


@pytest.fixture
def auto_session(make_session):
    def make(rules: str = WEEKLY_THURSDAY, **fields) -> Session:
        values = {"auto_create_instances": True, "initiation_date": date(2026, 1, 1), "recurrence": rules}
        values.update(fields)
        return make_session(**values)

    return make


def sweep_at(t: datetime) -> dict:
    return update_active_sessions(t - settings.ACTIVE_SESSION_LOOKAHEAD)


def sweep_daily(first: date, last: date, at: time = time(12, 0)) -> None:
    day = first
    while day <= last:
        sweep_at(datetime.combine(day, at, tzinfo=UTC))
        day += timedelta(days=1)


def instance_dates(session: Session) -> list[date]:
    return list(session.instances.order_by("date", "start_time").values_list("date", flat=True))


def test_every_other_week_is_anchored_on_the_initiation_date(auto_session):
    session = auto_session("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", initiation_date=date(2026, 1, 8))
    sweep_daily(date(2026, 1, 1), date(2026, 2, 27))
    assert instance_dates(session) == [date(2026, 1, 8), date(2026, 1, 22), date(2026, 2, 5), date(2026, 2, 19)]
    instance = session.instances.get(date=date(2026, 1, 22))
    assert instance.auto_created and (instance.start_time, instance.end_time) == (session.start_time, session.end_time)
    assert instance.starts_at == datetime(2026, 1, 22, 21, 0, tzinfo=UTC)


def test_fourth_and_last_thursday_of_the_month(auto_session):
    fourth = auto_session("RRULE:FREQ=MONTHLY;BYDAY=+4TH")
    last = auto_session("RRULE:FREQ=MONTHLY;BYDAY=-1TH")
    sweep_daily(date(2026, 1, 1), date(2026, 2, 27))
    assert instance_dates(fourth) == [date(2026, 1, 22), date(2026, 2, 26)]
    assert instance_dates(last) == [date(2026, 1, 29), date(2026, 2, 26)]


def test_exdate_is_honoured(auto_session):
    session = auto_session(f"{WEEKLY_THURSDAY}\nEXDATE:20260212T000000Z")
    sweep_daily(date(2026, 2, 1), date(2026, 2, 27))
    assert instance_dates(session) == [date(2026, 2, 5), date(2026, 2, 19), date(2026, 2, 26)]


def test_nothing_before_initiation_or_after_termination(auto_session):
    session = auto_session(
        initiation_date=date(2026, 1, 15), termination_date=date(2026, 1, 22), auto_create_hours_ahead=168
    )
    sweep_daily(date(2026, 1, 1), date(2026, 2, 10))
    assert instance_dates(session) == [date(2026, 1, 15), date(2026, 1, 22)]


@pytest.mark.parametrize(
    ("t", "created"),
    [
        # The window (21:00-23:00 Dublin, 60-minute buffers) closes at 00:00 UTC.
        (datetime(2026, 1, 15, 23, 59, tzinfo=UTC), True),
        (datetime(2026, 1, 16, 0, 0, tzinfo=UTC), False),
        # 24 hours ahead: an occurrence starting exactly at t + 24 h is not yet due.
        (datetime(2026, 1, 14, 21, 1, tzinfo=UTC), True),
        (datetime(2026, 1, 14, 21, 0, tzinfo=UTC), False),
    ],
)
def test_horizon_boundaries(auto_session, t, created):
    session = auto_session(initiation_date=date(2026, 1, 15), end_time=time(23, 0))
    sweep_at(t)
    assert instance_dates(session) == ([date(2026, 1, 15)] if created else [])


def test_second_sweep_creates_no_duplicates(auto_session, make_instance):
    session = auto_session(auto_create_hours_ahead=168)
    by_hand = make_instance(session, date(2026, 1, 15))  # someone made tonight's already
    t = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
    first = sweep_at(t)
    assert first["auto_created"] == [
        {
            "session_id": session.pk,
            "session_name": session.name,
            "instances_created": 1,
            "dates": ["2026-01-22"],
            "instance_ids": [session.instances.get(date=date(2026, 1, 22)).pk],
        }
    ]
    assert sweep_at(t)["auto_created"] == []
    assert sweep_at(t + timedelta(hours=1))["auto_created"] == []
    assert instance_dates(session) == [date(2026, 1, 15), date(2026, 1, 22)]
    assert session.instances.get(date=date(2026, 1, 15)).pk == by_hand.pk


def test_a_deleted_instance_is_not_re_created(auto_session):
    session = auto_session("RRULE:FREQ=WEEKLY;BYDAY=TH,FR")
    sweep_at(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    session.instances.get(date=date(2026, 1, 15)).delete()
    # Due again at 21:00 for Friday, while Thursday's window is still open.
    sweep_at(datetime(2026, 1, 15, 21, 30, tzinfo=UTC))
    assert instance_dates(session) == [date(2026, 1, 16)]
    sweep_daily(date(2026, 1, 16), date(2026, 1, 22), at=time(13, 0))
    assert instance_dates(session) == [date(2026, 1, 16), date(2026, 1, 22)]


def test_schedule_change_restarts_the_horizon(auto_session, make_person, make_attendance, clock):
    t = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    clock.set(t)
    session = auto_session("RRULE:FREQ=WEEKLY;BYDAY=TH,FR", auto_create_hours_ahead=168)
    sweep_at(t)
    assert instance_dates(session) == [date(2026, 1, 15), date(2026, 1, 16)]
    friday = session.instances.get(date=date(2026, 1, 16))
    make_attendance(make_person(), friday, "maybe")

    session.refresh_from_db()
    session.recurrence = "RRULE:FREQ=WEEKLY;BYDAY=SA"
    session.save()
    later = t + timedelta(minutes=5)
    clock.set(later)
    result = sweep_at(later)
    # Thursday no longer matches and nobody answered: gone. Friday has an answer: kept.
    assert instance_dates(session) == [date(2026, 1, 16), date(2026, 1, 17)]
    assert session.instances.get(date=date(2026, 1, 16)).pk == friday.pk
    assert result["auto_created"][0]["dates"] == ["2026-01-17"]


def test_schedule_change_re_creates_a_deleted_occurrence(auto_session, clock):
    t = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    clock.set(t)
    session = auto_session(auto_create_hours_ahead=48)
    sweep_at(t)
    session.instances.get().delete()
    sweep_at(t + timedelta(minutes=15))
    assert instance_dates(session) == []

    session.refresh_from_db()
    session.start_time = time(20, 0)
    session.save()
    sweep_at(t + timedelta(minutes=30))
    assert list(session.instances.values_list("date", "start_time")) == [(date(2026, 1, 15), time(20, 0))]


def test_a_just_created_instance_whose_window_is_open_is_active_in_the_same_sweep(auto_session):
    session = auto_session()
    result = sweep_at(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    created = session.instances.get()
    assert result["auto_created"][0]["instance_ids"] == [created.pk]
    assert [a["instance_id"] for a in result["activated"]] == [created.pk]
    created.refresh_from_db()
    assert created.is_active


def test_weekly_across_dst_keeps_local_wall_clock_time(auto_session):
    session = auto_session(
        "RRULE:FREQ=WEEKLY;BYDAY=TU",
        timezone="America/New_York",
        start_time=time(19, 0),
        end_time=time(22, 0),
        initiation_date=date(2026, 10, 1),
        auto_create_hours_ahead=168,
    )
    for day in (date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9)):
        sweep_at(datetime.combine(day, time(12, 0), tzinfo=UTC))
    rows = list(session.instances.order_by("date").values_list("date", "start_time", "starts_at"))
    assert rows == [
        (date(2026, 10, 27), time(19, 0), datetime(2026, 10, 27, 23, 0, tzinfo=UTC)),
        (date(2026, 11, 3), time(19, 0), datetime(2026, 11, 4, 0, 0, tzinfo=UTC)),
        (date(2026, 11, 10), time(19, 0), datetime(2026, 11, 11, 0, 0, tzinfo=UTC)),
    ]
    assert all(starts_at.astimezone(ZoneInfo("America/New_York")).time() == time(19, 0) for _, _, starts_at in rows)


def test_unparsable_rules_and_missing_times_are_reported_while_others_proceed(auto_session):
    garbled = auto_session()
    Session.objects.filter(pk=garbled.pk).update(recurrence="RRULE:FREQ=FORTNIGHTLY")
    timeless = auto_session(start_time=None, end_time=None)
    healthy = auto_session()
    t = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    for _ in range(2):  # reported on every sweep until fixed
        result = sweep_at(t)
        errors = {e["session_id"]: e["error"] for e in result["errors"]}
        assert set(errors) == {garbled.pk, timeless.pk}
        assert errors[garbled.pk].startswith("Unparsable recurrence")
        assert errors[timeless.pk] == "Missing start or end time"
        t += timedelta(hours=1)
    assert instance_dates(healthy) == [date(2026, 1, 15)]
    assert not SessionInstance.objects.exclude(session=healthy).exists()


def test_a_session_with_an_invalid_timezone_is_not_expanded(auto_session):
    session = auto_session()
    Session.objects.filter(pk=session.pk).update(timezone="Mars/Olympus")
    result = sweep_at(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    assert result["errors"] == [{"session_id": session.pk, "error": "Invalid timezone 'Mars/Olympus'"}]
    assert result["auto_created"] == [] and instance_dates(session) == []


def test_auto_create_scheduled_instances_alone(auto_session):
    session = auto_session()
    dry = auto_create_scheduled_instances(datetime(2026, 1, 15, 20, 30, tzinfo=UTC), dry_run=True)
    assert dry["auto_created"][0]["instance_ids"] == [None]
    assert instance_dates(session) == []
    result = auto_create_scheduled_instances(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    assert result["auto_created"][0]["dates"] == ["2026-01-15"]
    assert result["activated"] == [] and not session.instances.get().is_active


@pytest.mark.parametrize(
    ("on", "start", "starts_at"),
    [
        (date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # gap: shifted to 03:30 EDT
        (date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # fold: the first 01:30
    ],
    ids=["gap", "fold"],
)
def test_occurrences_on_dst_change_days(auto_session, on, start, starts_at):
    session = auto_session(
        "RRULE:FREQ=WEEKLY;BYDAY=SU",
        timezone="America/New_York",
        start_time=start,
        end_time=time(4, 0),
        initiation_date=date(2026, 1, 1),
    )
    result = sweep_at(starts_at)
    instance = session.instances.get()
    assert (instance.date, instance.start_time, instance.starts_at) == (on, start, starts_at)
    assert [a["instance_id"] for a in result["activated"]] == [instance.pk]
