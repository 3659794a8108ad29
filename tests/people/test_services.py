from datetime import UTC, date, datetime, time

import pytest

from people.models import Attendance, Person
from people.services import AttendanceRefused, answer, check_in, live_nearby, people_at
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SessionInstance

pytestmark = pytest.mark.django_db

EVENING = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)  # 21:30 in Dublin (winter: UTC+0)


@pytest.fixture
def two_live(make_session, make_instance):
    """Two live instances in Dublin (one with a city spelled differently) and one in Cork."""
    pub = make_session(name="Pub", city="Dublin")
    hall = make_session(name="Hall", city="  dublin ")
    cork = make_session(name="Cork", city="Cork")
    instances = [make_instance(s, date(2026, 1, 15)) for s in (pub, hall, cork)]
    update_active_sessions(EVENING)
    for instance in instances:
        instance.refresh_from_db()
        assert instance.is_active
    return instances


def test_check_in_on_live_instance_moves_person_at_once(two_live, make_person, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: EVENING)
    person = make_person()
    check_in(person=person, instance=two_live[0])
    person.refresh_from_db()
    assert person.at_active_session_instance_id == two_live[0].pk
    attendance = Attendance.objects.get(person=person, session_instance=two_live[0])
    assert (attendance.status, attendance.checked_in_at) == ("yes", EVENING)


def test_check_in_elsewhere_sticks_through_the_next_sweep(
    two_live, make_person, make_attendance, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(clock, "now", lambda: EVENING - clock.lookahead())
    person = make_person()
    with django_capture_on_commit_callbacks(execute=True):
        make_attendance(person, two_live[0], "yes")  # the hook places them
    person.refresh_from_db()
    assert person.at_active_session_instance_id == two_live[0].pk
    with django_capture_on_commit_callbacks(execute=True):
        check_in(person=person, instance=two_live[1])
    update_active_sessions(EVENING)
    person.refresh_from_db()
    assert person.at_active_session_instance_id == two_live[1].pk


def test_check_in_on_not_yet_live_instance_records_yes_only(at_evening, make_session, make_instance, make_person):
    tomorrow = make_instance(make_session(), date(2026, 1, 16))  # starts within a day
    person = make_person()
    check_in(person=person, instance=tomorrow)
    person.refresh_from_db()
    assert person.at_active_session_instance_id is None
    assert Attendance.objects.get(person=person, session_instance=tomorrow).status == "yes"


def test_check_in_refused_more_than_a_day_ahead_and_after_the_window(
    at_evening, make_session, make_instance, make_person
):
    session = make_session()
    next_week = make_instance(session, date(2026, 1, 22))
    last_week = make_instance(session, date(2026, 1, 8))
    person = make_person()
    with pytest.raises(AttendanceRefused, match="more than a day"):
        check_in(person=person, instance=next_week)
    with pytest.raises(AttendanceRefused, match="ended"):
        check_in(person=person, instance=last_week)
    assert not Attendance.objects.exists()


def test_leave_moves_off_keeps_yes_and_is_not_placed_again(live_instance, make_person):
    from people.services import leave
    from sessions_app.active_sessions import update_active_sessions

    person = make_person()
    check_in(person=person, instance=live_instance)
    person.refresh_from_db()
    assert person.at_active_session_instance_id == live_instance.pk
    leave(person=person, instance=live_instance)
    person.refresh_from_db()
    attendance = Attendance.objects.get(person=person, session_instance=live_instance)
    assert attendance.status == "yes" and attendance.left_at is not None
    assert person.at_active_session_instance_id is None
    update_active_sessions(full=True)
    person.refresh_from_db()
    assert person.at_active_session_instance_id is None
    check_in(person=person, instance=live_instance)  # a new check-in clears "I've left"
    person.refresh_from_db()
    assert person.at_active_session_instance_id == live_instance.pk
    assert Attendance.objects.get(pk=attendance.pk).left_at is None


def test_cancelled_instance_refuses_check_in_and_yes(make_session, make_instance, make_person):
    cancelled = make_instance(make_session(), date(2026, 1, 20), is_cancelled=True)
    person = make_person()
    with pytest.raises(AttendanceRefused, match="cancelled"):
        check_in(person=person, instance=cancelled)
    with pytest.raises(AttendanceRefused, match="cancelled"):
        answer(person=person, instance=cancelled, status="yes")
    assert not Attendance.objects.exists()
    answer(person=person, instance=cancelled, status="no")
    assert Attendance.objects.get().status == "no"


def test_answer_rejects_unknown_status(make_session, make_instance, make_person):
    instance = make_instance(make_session(), date(2026, 1, 20))
    with pytest.raises(AttendanceRefused, match="Unknown answer"):
        answer(person=make_person(), instance=instance, status="perhaps")
    assert not Attendance.objects.exists()


def test_answer_changes_status_and_moves_checked_in_at(make_session, make_instance, make_person, monkeypatch):
    instance = make_instance(make_session(), date(2026, 1, 20))
    person = make_person()
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 1, 10, 12, tzinfo=UTC))
    answer(person=person, instance=instance, status="maybe")
    assert Attendance.objects.get().checked_in_at is None
    answer(person=person, instance=instance, status="yes")
    assert Attendance.objects.get().checked_in_at == datetime(2026, 1, 10, 12, tzinfo=UTC)


def test_live_nearby_is_same_city_and_country_case_and_space_insensitive(two_live):
    pub, hall, cork = two_live
    assert live_nearby(pub, limit=20) == ([hall], False)
    assert live_nearby(cork, limit=20) == ([], False)


def test_people_at_hides_people_who_do_not_share(two_live, make_person, django_user_model):
    instance = two_live[0]
    open_person = make_person(share_location=True)
    private_user = django_user_model.objects.create_user("private")
    private = make_person(share_location=False, user=private_user)
    Person.objects.filter(pk__in=[open_person.pk, private.pk]).update(at_active_session_instance=instance)
    stranger = django_user_model.objects.create_user("stranger")
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    assert set(people_at(instance, viewer=stranger)) == {open_person}
    assert set(people_at(instance, viewer=private_user)) == {open_person, private}
    assert set(people_at(instance, viewer=staff)) == {open_person, private}


def test_writers_refuse_an_instance_deleted_before_they_took_the_lock(
    at_evening, make_session, make_instance, make_person
):
    tonight = make_instance(make_session(), date(2026, 1, 15))
    person = make_person()
    stale_copy = SessionInstance.objects.get(pk=tonight.pk)
    tonight.delete()
    for write in (
        lambda: check_in(person=person, instance=stale_copy),
        lambda: answer(person=person, instance=stale_copy, status="yes"),
    ):
        with pytest.raises(AttendanceRefused, match="no longer exists"):
            write()
    assert not Attendance.objects.exists()


# A window that opened since the last cron sweep (sweeps at t = 21:00 and 21:15): the
# answer takes effect at once, not at the next sweep.
DUBLIN_EVENING = date(2026, 1, 15)


def _clock_at(monkeypatch, hour: int, minute: int) -> datetime:
    instant = datetime(2026, 1, 15, hour, minute, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: instant)
    return instant


def test_check_in_on_a_window_opened_since_the_last_sweep_places_the_person_at_once(
    monkeypatch, make_session, make_instance, make_person
):
    later = make_instance(make_session(), DUBLIN_EVENING, start_time=time(22, 5), end_time=time(23, 59))
    person = make_person()
    update_active_sessions(_clock_at(monkeypatch, 20, 59))  # t = 21:00: the window opens at 21:05
    _clock_at(monkeypatch, 21, 10)
    check_in(person=person, instance=later)
    person.refresh_from_db()
    later.refresh_from_db()
    assert later.is_active and person.at_active_session_instance_id == later.pk


def test_check_in_elsewhere_between_sweeps_moves_the_person_there(
    monkeypatch, make_session, make_instance, make_person
):
    first = make_instance(make_session(), DUBLIN_EVENING)  # 21:00-23:30, window from 20:00
    second = make_instance(make_session(), DUBLIN_EVENING, start_time=time(22, 5), end_time=time(23, 59))
    person = make_person()
    update_active_sessions(_clock_at(monkeypatch, 20, 59))
    _clock_at(monkeypatch, 21, 0)
    check_in(person=person, instance=first)
    _clock_at(monkeypatch, 21, 10)
    check_in(person=person, instance=second)
    update_active_sessions(_clock_at(monkeypatch, 21, 14))
    person.refresh_from_db()
    assert person.at_active_session_instance_id == second.pk


def test_a_yes_on_a_window_opened_since_the_last_sweep_places_the_person_at_once(
    monkeypatch, make_session, make_instance, make_person
):
    later = make_instance(make_session(), DUBLIN_EVENING, start_time=time(22, 5), end_time=time(23, 59))
    person = make_person()
    update_active_sessions(_clock_at(monkeypatch, 20, 59))
    _clock_at(monkeypatch, 21, 10)
    answer(person=person, instance=later, status="yes")
    person.refresh_from_db()
    assert person.at_active_session_instance_id == later.pk
