"""Event hooks (SPEC 5): a write re-evaluates its session or person at once, on commit."""

import logging
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core import serializers
from django.db import connection, transaction

from people.models import Attendance, Person
from sessions_app import active_sessions
from sessions_app.active_sessions import ADVISORY_LOCK_KEY, SweepFailed, update_active_sessions
from sessions_app.models import Session, SessionInstance, SweepRun
from tests.sessions_app.test_active_sessions import second_connection

pytestmark = pytest.mark.django_db

# Thursday 15 January 2026, 21:30 in Dublin (UTC+0).
NOW = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)
TODAY = date(2026, 1, 15)


@pytest.fixture(autouse=True)
def frozen_clock(clock):
    """Hooks read the clock (they have no ``now`` to pass): set it where they read it."""
    clock.set(NOW)


@pytest.fixture
def hooks(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks registered inside the block, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def is_active(instance: SessionInstance) -> bool:
    instance.refresh_from_db()
    return instance.is_active


def where(person: Person) -> int | None:
    person.refresh_from_db()
    return person.at_active_session_instance_id


def test_a_new_recurrence_that_covers_now_is_active_at_once(make_session, hooks):
    session = make_session(
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO", auto_create_instances=True, initiation_date=date(2026, 1, 1)
    )
    update_active_sessions(NOW)
    assert not session.instances.exists()

    session.recurrence = "RRULE:FREQ=WEEKLY;BYDAY=TH"
    with hooks() as callbacks:
        session.save()
    assert len(callbacks) == 1
    tonight = session.instances.get()
    assert tonight.date == TODAY and tonight.is_active


def test_new_session_times_covering_now_activate_at_once(make_session, make_instance, hooks):
    session = make_session(start_time=time(23, 0), end_time=time(23, 59), active_buffer_minutes_before=0)
    instance = make_instance(session, TODAY)
    update_active_sessions(NOW)
    assert not is_active(instance)

    session.start_time = time(21, 0)
    with hooks():
        session.save()
    instance.refresh_from_db()
    assert instance.start_time == time(21, 0) and instance.is_active


@pytest.fixture
def person_at_one_of_two(make_session, make_instance, make_person, make_attendance):
    """A person answering yes to two live instances, placed at the one that starts first."""
    first = make_instance(make_session(start_time=time(20, 0)), TODAY)
    other = make_instance(make_session(start_time=time(21, 0)), TODAY)
    person = make_person()
    make_attendance(person, first)
    make_attendance(person, other)
    update_active_sessions(NOW)
    assert where(person) == first.pk
    return person, first, other


def test_a_cancelled_instance_is_inactive_at_once_and_its_people_re_placed(person_at_one_of_two, hooks):
    person, cancelled, other = person_at_one_of_two
    # A full save of the object as loaded before the sweep activated it (stale is_active).
    cancelled.is_cancelled = True
    with hooks():
        cancelled.save()
    assert not is_active(cancelled)
    assert where(person) == other.pk


def test_a_deleted_active_instance_re_places_its_people(person_at_one_of_two, hooks):
    person, doomed, other = person_at_one_of_two
    with hooks():
        doomed.delete()
    assert where(person) == other.pk


def test_a_cancelled_instance_saved_fresh_re_places_its_people(person_at_one_of_two, hooks):
    person, cancelled, other = person_at_one_of_two
    cancelled = SessionInstance.objects.get(pk=cancelled.pk)  # is_active=True as loaded
    cancelled.is_cancelled = True
    with hooks():
        cancelled.save()
    assert not is_active(cancelled)
    assert where(person) == other.pk


def test_answers_move_the_person_at_once(make_session, make_instance, make_person, hooks):
    instance = make_instance(make_session(), TODAY)
    update_active_sessions(NOW)
    person = make_person()

    with hooks():
        answer = Attendance.objects.create(person=person, session_instance=instance, status="yes")
    assert where(person) == instance.pk
    assert answer.checked_in_at == NOW

    answer.status = "no"
    with hooks():
        answer.save()
    assert where(person) is None

    answer.status = "yes"
    with hooks():
        answer.save()
    assert where(person) == instance.pk

    with hooks():
        answer.delete()
    assert where(person) is None


def test_fixture_loading_does_nothing(make_session, make_instance, make_person, make_attendance, hooks):
    session = make_session()
    instance = make_instance(session, TODAY)
    person = make_person()
    answer = make_attendance(person, instance)
    data = serializers.serialize("json", [session, instance, person, answer])
    Session.objects.all().delete()
    Person.objects.all().delete()

    with hooks() as callbacks:
        for obj in serializers.deserialize("json", data):
            obj.save()  # raw=True, as loaddata does
    assert callbacks == []
    assert not is_active(instance)  # its window is open now: only an evaluation would activate it
    assert where(person) is None


def test_an_admin_change_of_only_is_active_is_not_re_evaluated(make_session, make_instance, hooks):
    session = make_session()
    tonight = make_instance(session, TODAY)
    tomorrow = make_instance(session, date(2026, 1, 16))
    update_active_sessions(NOW)

    tonight = SessionInstance.objects.get(pk=tonight.pk)  # as the admin form loads it
    tonight.is_active = False
    with hooks():
        tonight.save()
    assert not is_active(tonight)  # the override holds until the next evaluation
    assert not is_active(tomorrow)
    assert not SweepRun.objects.filter(trigger="event", activated_count__gt=0).exists()
    update_active_sessions(NOW + timedelta(minutes=1))  # the next sweep decides from the data
    assert is_active(tonight)


def test_people_follow_an_admin_override_at_once(make_session, make_instance, make_person, make_attendance, hooks):
    tonight = make_instance(make_session(), TODAY)
    elsewhere = make_instance(make_session(city="Cork"), TODAY)
    both, only_tonight = make_person(), make_person()
    make_attendance(both, tonight, "yes")
    make_attendance(both, elsewhere, "yes")
    make_attendance(only_tonight, tonight, "yes")
    update_active_sessions(NOW)
    tonight = SessionInstance.objects.get(pk=tonight.pk)
    assert where(only_tonight) == tonight.pk
    assert where(both) == elsewhere.pk  # same start: the more recent yes wins

    tonight.is_active = False  # by hand: people may not stay at an inactive instance
    with hooks():
        tonight.save()
    assert where(only_tonight) is None
    assert where(both) == elsewhere.pk

    tonight.is_active = True  # and back on by hand: the people who said yes and are nowhere go there
    with hooks():
        tonight.save()
    assert where(only_tonight) == tonight.pk


def test_the_sweeps_own_deletes_do_not_re_enter_it(make_session, hooks):
    session = make_session(
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH,FR",
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
        auto_create_hours_ahead=48,
    )
    update_active_sessions(NOW)
    assert session.instances.count() == 2
    session.recurrence = "RRULE:FREQ=WEEKLY;BYDAY=TH"
    with hooks() as callbacks:
        session.save()  # the hook's evaluation deletes Friday's instance
    assert len(callbacks) == 1
    assert list(session.instances.values_list("date", flat=True)) == [TODAY]


def test_a_failing_hook_evaluation_is_logged_not_raised(
    make_session, make_instance, make_person, hooks, monkeypatch, caplog
):
    instance = make_instance(make_session(), TODAY)
    person = make_person()

    def fail(*args, **kwargs):
        raise SweepFailed("Database error: gone")

    monkeypatch.setattr(active_sessions, "reevaluate", fail)
    with caplog.at_level(logging.ERROR), hooks() as callbacks:
        Attendance.objects.create(person=person, session_instance=instance, status="yes")
        instance.end_time = time(23, 45)
        instance.save()
    # The writes are kept; both failures are logged; the next sweep catches up.
    assert len(callbacks) == 2
    assert Attendance.objects.filter(person=person, status="yes").exists()
    failures = [r for r in caplog.records if "Database error: gone" in r.getMessage()]
    assert len(failures) == 2  # one ERROR line each, naming what it was for, no traceback
    assert all(r.levelno == logging.ERROR and r.exc_info is None for r in failures)
    assert {r.getMessage().split(" failed")[0] for r in failures} == {
        f"Re-evaluation of person {person.pk}",
        f"Re-evaluation of session {instance.session_id}",
    }
    update_active_sessions(NOW)
    assert where(person) == instance.pk


@pytest.mark.django_db(transaction=True)
def test_hooks_run_on_a_real_commit(make_session, make_instance, make_person, make_attendance):
    instance = make_instance(make_session(), TODAY)  # created in autocommit: its hook ran
    assert is_active(instance)
    person = make_person()
    with transaction.atomic():
        make_attendance(person, instance)
        assert where(person) is None  # not before the commit
    assert where(person) == instance.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock exists on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_hook_evaluations_wait_for_the_lock_instead_of_skipping(make_session, make_instance):
    instance = make_instance(make_session(), TODAY)
    other = second_connection()
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        # A cron sweep would return "skipped" at once; an event evaluation waits (here
        # until lock_timeout gives up), so no re-evaluation is silently dropped.
        with pytest.raises(SweepFailed, match="lock timeout"):
            active_sessions.reevaluate(session_ids=[instance.session_id])
        assert SweepRun.objects.filter(status=SweepRun.Status.FAILED).count() == 1
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_an_instance_moved_to_another_session_re_evaluates_both(make_session, make_instance, hooks):
    first, second = make_session(), make_session()
    early = make_instance(first, TODAY, start_time=time(20, 30), end_time=time(23, 0))
    late = make_instance(first, TODAY)
    update_active_sessions(NOW)
    assert is_active(late) and not is_active(early)
    late = SessionInstance.objects.get(pk=late.pk)  # as the admin form loads it
    late.session = second
    with hooks():
        late.save()
    assert is_active(late)  # now the winner of the second session
    assert is_active(early)  # the first session is not left without its live instance
