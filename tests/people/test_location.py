"""Where each person is (SPEC 3.4-3.5), across timezones, through the sweep and the hooks."""

from datetime import UTC, date, datetime, time

import pytest
from django.conf import settings
from django.db import connection

from people import location as location_module
from people.models import Attendance, Person
from sessions_app.active_sessions import reevaluate, update_active_sessions

pytestmark = pytest.mark.django_db

# 15 January 2026: Dublin is UTC+0, New York UTC-5.
EVENING = date(2026, 1, 15)


def sweep_at(t: datetime) -> dict:
    return update_active_sessions(t - settings.ACTIVE_SESSION_LOOKAHEAD)


def where(person: Person) -> int | None:
    person.refresh_from_db()
    return person.at_active_session_instance_id


@pytest.fixture
def dublin_and_new_york(make_session, make_instance):
    """Dublin 21:00 and New York 16:00 (also 21:00 UTC), both active at 20:30 UTC."""
    dublin = make_instance(
        make_session(timezone="Europe/Dublin", start_time=time(21, 0), end_time=time(23, 0)), EVENING
    )
    new_york = make_instance(
        make_session(
            timezone="America/New_York", city="New York", country="US", start_time=time(16, 0), end_time=time(18, 0)
        ),
        EVENING,
    )
    assert dublin.starts_at == new_york.starts_at == datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    return dublin, new_york


def checked_in(attendance: Attendance, at: datetime) -> None:
    Attendance.objects.filter(pk=attendance.pk).update(checked_in_at=at)


def test_the_instance_that_starts_first_in_utc_wins(make_session, make_instance, make_person, make_attendance):
    # Dublin 20:00 (20:00 UTC) against New York 14:30 (19:30 UTC): New York starts first.
    dublin = make_instance(make_session(timezone="Europe/Dublin", start_time=time(20, 0)), EVENING)
    new_york = make_instance(
        make_session(timezone="America/New_York", start_time=time(14, 30), end_time=time(18, 0)), EVENING
    )
    person = make_person()
    make_attendance(person, dublin)
    make_attendance(person, new_york)
    result = sweep_at(datetime(2026, 1, 15, 20, 0, tzinfo=UTC))
    assert result["people_moved"] == [{"person_id": person.pk, "from_instance_id": None, "to_instance_id": new_york.pk}]
    assert where(person) == new_york.pk


def test_equal_starts_tie_to_the_most_recent_check_in(dublin_and_new_york, make_person, make_attendance):
    dublin, new_york = dublin_and_new_york
    to_dublin, to_new_york = make_person(), make_person()
    for person, recent in ((to_dublin, dublin), (to_new_york, new_york)):
        for instance in (dublin, new_york):
            minutes = 30 if instance == recent else 10
            checked_in(make_attendance(person, instance), datetime(2026, 1, 15, 12, minutes, tzinfo=UTC))
    sweep_at(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    assert (where(to_dublin), where(to_new_york)) == (dublin.pk, new_york.pk)


def test_equal_starts_and_check_ins_tie_to_the_higher_instance_id(dublin_and_new_york, make_person, make_attendance):
    dublin, new_york = dublin_and_new_york
    person = make_person()
    same = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    checked_in(make_attendance(person, new_york), same)
    checked_in(make_attendance(person, dublin), same)
    sweep_at(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    assert where(person) == max(dublin.pk, new_york.pk)


def test_a_person_stays_put_when_an_earlier_starting_instance_activates(
    make_session, make_instance, make_person, make_attendance
):
    # Late opens at 19:00 (120-minute buffer); early starts first but opens only at 20:30.
    late = make_instance(make_session(start_time=time(21, 0), active_buffer_minutes_before=120), EVENING)
    early = make_instance(make_session(start_time=time(20, 30), active_buffer_minutes_before=0), EVENING)
    person = make_person()
    make_attendance(person, late)
    make_attendance(person, early)
    sweep_at(datetime(2026, 1, 15, 19, 30, tzinfo=UTC))
    assert where(person) == late.pk
    result = sweep_at(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    assert [a["instance_id"] for a in result["activated"]] == [early.pk]
    assert result["people_moved"] == []
    assert where(person) == late.pk


def test_a_check_in_elsewhere_sticks(make_session, make_instance, make_person, make_attendance):
    first = make_instance(make_session(start_time=time(20, 0)), EVENING)
    second = make_instance(make_session(start_time=time(21, 0), active_buffer_minutes_before=120), EVENING)
    third = make_instance(make_session(start_time=time(19, 45), active_buffer_minutes_before=0), EVENING)
    person = make_person()
    for instance in (first, second, third):
        make_attendance(person, instance)
    sweep_at(datetime(2026, 1, 15, 19, 30, tzinfo=UTC))
    assert where(person) == first.pk

    Person.objects.filter(pk=person.pk).update(at_active_session_instance=second)  # "I'm here" at second
    assert reevaluate(person_ids=[person.pk])["people_moved"] == []
    # Third starts earliest of all and activates now: the person still stays at second.
    result = sweep_at(datetime(2026, 1, 15, 19, 45, tzinfo=UTC))
    assert [a["instance_id"] for a in result["activated"]] == [third.pk]
    assert where(person) == second.pk


def test_a_location_that_is_no_longer_yes_or_active_is_replaced(
    make_session, make_instance, make_person, make_attendance
):
    first = make_instance(make_session(start_time=time(20, 0)), EVENING)
    second = make_instance(make_session(start_time=time(21, 0)), EVENING)
    person = make_person()
    answer = make_attendance(person, first)
    make_attendance(person, second)
    sweep_at(datetime(2026, 1, 15, 20, 30, tzinfo=UTC))
    assert where(person) == first.pk

    Attendance.objects.filter(pk=answer.pk).update(status="no")
    result = reevaluate(person_ids=[person.pk])
    assert result["people_moved"] == [
        {"person_id": person.pk, "from_instance_id": first.pk, "to_instance_id": second.pk}
    ]
    assert where(person) == second.pk


def test_yes_to_no_through_the_hook_moves_the_person_off_at_once(
    make_session, make_instance, make_person, make_attendance, django_capture_on_commit_callbacks, clock
):
    t = clock.set(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    instance = make_instance(make_session(), EVENING)
    person = make_person()
    answer = make_attendance(person, instance)
    sweep_at(t)
    assert where(person) == instance.pk

    answer.status = "no"
    with django_capture_on_commit_callbacks(execute=True):
        answer.save()
    assert where(person) is None


def test_maybe_never_places_a_person(make_session, make_instance, make_person, make_attendance):
    instance = make_instance(make_session(), EVENING)
    person = make_person()
    answer = make_attendance(person, instance, "maybe")
    result = sweep_at(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    assert result["activated"] and result["people_moved"] == []
    assert reevaluate(person_ids=[person.pk])["people_moved"] == []
    assert where(person) is None

    Attendance.objects.filter(pk=answer.pk).update(status="yes")
    reevaluate(person_ids=[person.pk])
    assert where(person) == instance.pk


def test_only_people_whose_location_changes_are_written_and_reported(
    make_session, make_instance, make_person, make_attendance, monkeypatch
):
    first = make_instance(make_session(start_time=time(19, 30)), EVENING)
    second = make_instance(make_session(start_time=time(21, 0)), EVENING)
    stays, moves = make_person(), make_person()
    make_attendance(stays, first)
    make_attendance(stays, second)
    make_attendance(moves, second)
    sweep_at(datetime(2026, 1, 15, 19, 0, tzinfo=UTC))
    assert where(stays) == first.pk

    written = []
    real_assign = location_module.assign_foreign_keys

    def spy(model, field_name, values):
        written.append(dict(values))
        return real_assign(model, field_name, values)

    monkeypatch.setattr(location_module, "assign_foreign_keys", spy)
    row_versions = _row_versions(stays, moves)
    # Second activates: both people are affected, only one of them moves.
    result = sweep_at(datetime(2026, 1, 15, 20, 0, tzinfo=UTC))
    assert result["people_moved"] == [{"person_id": moves.pk, "from_instance_id": None, "to_instance_id": second.pk}]
    if connection.vendor == "postgresql":
        # One UPDATE computes and writes the moves: a row it did not write keeps its xmin.
        after = _row_versions(stays, moves)
        assert written == [] and after[0] == row_versions[0] and after[1] != row_versions[1]
    else:
        assert written == [{moves.pk: second.pk}]
    assert (where(stays), where(moves)) == (first.pk, second.pk)


def _row_versions(*people) -> list:
    """PostgreSQL: each row's xmin (the transaction that last wrote it); elsewhere nothing."""
    if connection.vendor != "postgresql":
        return [None] * len(people)
    with connection.cursor() as cursor:
        versions = []
        for person in people:
            cursor.execute(f"SELECT xmin::text FROM {Person._meta.db_table} WHERE id = %s", [person.pk])
            versions.append(cursor.fetchone()[0])
    return versions
