"""Edge cases of auto-create and the rules found in review: each one used to break a
sweep or lose an instance."""

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection

from people.models import Attendance, Person
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
LOOK = timedelta(minutes=1)


def mk(**fields):
    n = next(_n)
    v = {
        "name": f"S{n}",
        "slug": f"s-{n}",
        "venue_name": "Pub",
        "city": "Dublin",
        "country": "IE",
        "timezone": "Europe/Dublin",
        "start_time": time(21),
        "end_time": time(23, 30),
    }
    v.update(fields)
    return Session.objects.create(**v)


def sweep(t):
    return update_active_sessions(t - LOOK)


def set_rules_raw(session, text):
    with connection.cursor() as c:
        c.execute("UPDATE sessions_app_session SET recurrence = %s WHERE id = %s", [text, session.pk])


def test_two_occurrences_per_day_fail_whole_sweep():
    good = mk(auto_create_instances=True, initiation_date=date(2026, 1, 1), recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH")
    bad = mk(auto_create_instances=True, initiation_date=date(2026, 1, 1), recurrence="RRULE:FREQ=DAILY;BYHOUR=19,21")
    result = sweep(datetime(2026, 1, 15, 12, tzinfo=UTC))  # raised SweepFailed for everyone before
    assert good.instances.count() == 1
    assert [e["session_id"] for e in result["errors"]] == [bad.pk]
    assert "more than one start a day" in result["errors"][0]["error"]


@pytest.mark.parametrize(
    "text", ["RRULE:FREQ=WEEKLY;BYDAY=TH\nRDATE:20260230T000000Z", "RRULE:FREQ=MONTHLY;BYDAY=+9TH"]
)
def test_bad_stored_rules_are_per_session_errors(text):
    good = mk(auto_create_instances=True, initiation_date=date(2026, 1, 1), recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH")
    bad = mk(auto_create_instances=True, initiation_date=date(2026, 1, 1), recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH")
    set_rules_raw(bad, text)
    result = sweep(datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert [e["session_id"] for e in result["errors"]] == [bad.pk]
    assert good.instances.count() == 1


def test_extending_termination_creates_skipped_occurrences_within_horizon():
    # Weekly Tuesday + Thursday, horizon 168h, terminated on Thu 15 Jan.
    s = mk(
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TU,TH",
        auto_create_hours_ahead=168,
        termination_date=date(2026, 1, 15),
    )
    sweep(datetime(2026, 1, 14, 12, tzinfo=UTC))  # horizon to 21 Jan 12:00; Tue 20 Jan skipped (after termination)
    assert sorted(s.instances.values_list("date", flat=True)) == [date(2026, 1, 15)]
    s.refresh_from_db()
    s.termination_date = date(2026, 3, 31)
    s.save()
    sweep(datetime(2026, 1, 16, 12, tzinfo=UTC))  # horizon to 23 Jan 12:00: Tue 20 Jan and Thu 22 Jan are within it
    assert sorted(s.instances.values_list("date", flat=True)) == [
        date(2026, 1, 15),
        date(2026, 1, 20),
        date(2026, 1, 22),
    ]


def test_horizon_change_keeps_individually_edited_auto_instance():
    s = mk(
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH",
        auto_create_hours_ahead=48,
    )
    sweep(datetime(2026, 1, 14, 12, tzinfo=UTC))
    inst = s.instances.get(date=date(2026, 1, 15))
    inst.start_time = time(20)  # organiser moves this one evening earlier
    inst.save()
    s.refresh_from_db()
    s.auto_create_hours_ahead = 72  # unrelated change
    s.save()
    sweep(datetime(2026, 1, 14, 13, tzinfo=UTC))
    rows = list(s.instances.values_list("id", "date", "start_time"))
    assert rows == [(inst.pk, date(2026, 1, 15), time(20))]


def test_session_time_change_keeps_individually_edited_auto_instance():
    s = mk(
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH",
        auto_create_hours_ahead=48,
    )
    sweep(datetime(2026, 1, 14, 12, tzinfo=UTC))
    inst = s.instances.get(date=date(2026, 1, 15))
    inst.start_time = time(20)
    inst.save()
    s.refresh_from_db()
    s.start_time = time(21, 30)  # SPEC 1: individually edited instances keep theirs
    s.save()
    sweep(datetime(2026, 1, 14, 13, tzinfo=UTC))
    rows = list(s.instances.values_list("id", "date", "start_time"))
    assert (inst.pk, date(2026, 1, 15), time(20)) in rows


def test_exdate_exact_utc_instant_new_york_evening():
    s = mk(
        timezone="America/New_York",
        start_time=time(19),
        end_time=time(22),
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH\nEXDATE:20260116T000000Z",
    )  # Thu 15 Jan 19:00 EST
    sweep(datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert not s.instances.filter(date=date(2026, 1, 15)).exists()


def test_sub_daily_rules_are_refused_by_validation():
    from django.core.exceptions import ValidationError

    session = mk(recurrence="RRULE:FREQ=HOURLY", initiation_date=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="more than one start a day"):
        session.full_clean()


def test_an_answer_moved_to_another_person_re_places_both(django_capture_on_commit_callbacks):
    s = mk()
    inst = SessionInstance.objects.create(session=s, date=date(2026, 1, 15))
    p1 = Person.objects.create(first_name="a")
    p2 = Person.objects.create(first_name="b")
    answer = Attendance.objects.create(person=p1, session_instance=inst, status="yes")
    sweep(datetime(2026, 1, 15, 21, 30, tzinfo=UTC))
    answer.person = p2
    with django_capture_on_commit_callbacks(execute=True):
        answer.save()
    p1.refresh_from_db()
    p2.refresh_from_db()
    assert (p1.at_active_session_instance_id, p2.at_active_session_instance_id) == (None, inst.pk)


def test_a_full_sweep_repairs_a_location_changed_behind_the_hooks():
    s = mk()
    inst = SessionInstance.objects.create(session=s, date=date(2026, 1, 15))
    p = Person.objects.create(first_name="a")
    Attendance.objects.create(person=p, session_instance=inst, status="yes")
    sweep(datetime(2026, 1, 15, 21, 30, tzinfo=UTC))
    p.refresh_from_db()
    assert p.at_active_session_instance_id == inst.pk
    Attendance.objects.filter(person=p).update(status="no")  # or: the on_commit hook failed
    update_active_sessions(datetime(2026, 1, 15, 21, 45, tzinfo=UTC), full=True)
    p.refresh_from_db()
    assert p.at_active_session_instance_id is None
