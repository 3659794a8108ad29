"""Person and Attendance: the answer's uniqueness, when ``checked_in_at`` moves, and a
person's location surviving the deletion of the instance they were at.

Ordinary ``django_db`` tests: the on-commit hooks that re-place people never run here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from people.models import Attendance, Person
from tests.fixed_clock import FixedClock

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 1, 12, 18, 0, tzinfo=UTC)


@pytest.fixture
def ticking(clock: FixedClock) -> FixedClock:
    """The clock at MONDAY; the test moves it with ``advance``."""
    clock.set(MONDAY)
    return clock


@pytest.fixture
def instance(make_session, make_instance):
    return make_instance(make_session(), date(2026, 1, 15))


def stored_check_in(attendance: Attendance):
    return Attendance.objects.values_list("status", "checked_in_at").get(pk=attendance.pk)


def test_one_answer_per_person_and_instance(make_person, make_attendance, instance, make_instance):
    person = make_person()
    make_attendance(person, instance, "yes")

    # The one constraint, as PostgreSQL and SQLite name it, not some other failure.
    one_answer = (
        "unique_attendance_person_instance"
        "|UNIQUE constraint failed: people_attendance.person_id, people_attendance.session_instance_id"
    )
    with pytest.raises(IntegrityError, match=one_answer), transaction.atomic():
        make_attendance(person, instance, "no")

    make_attendance(make_person(), instance, "maybe")
    make_attendance(person, make_instance(instance.session, date(2026, 1, 22)), "no")
    assert Attendance.objects.filter(session_instance=instance).count() == 2
    assert Attendance.objects.filter(person=person).count() == 2


@pytest.mark.parametrize("status", ["yes", "maybe", "no"])
def test_a_new_answer_is_checked_in_only_when_yes(make_person, make_attendance, instance, ticking, status):
    answer = make_attendance(make_person(), instance, status)

    assert stored_check_in(answer) == (status, MONDAY if status == "yes" else None)


@pytest.mark.parametrize("earlier", ["no", "maybe"])
def test_becoming_yes_moves_checked_in_at_to_now(make_person, make_attendance, instance, ticking, earlier):
    answer = make_attendance(make_person(), instance, earlier)
    later = ticking.advance(hours=2)

    answer.status = "yes"
    answer.save(update_fields=["status"])

    assert stored_check_in(answer) == ("yes", later)


def test_becoming_yes_again_moves_checked_in_at_again(make_person, make_attendance, instance, ticking):
    answer = make_attendance(make_person(), instance, "yes")
    answer.status = "no"
    answer.save()
    answer.refresh_from_db()
    much_later = ticking.advance(days=1)

    answer.status = "yes"
    answer.save()

    assert stored_check_in(answer) == ("yes", much_later)


def test_saving_yes_again_keeps_checked_in_at(make_person, make_attendance, instance, ticking):
    answer = make_attendance(make_person(), instance, "yes")
    ticking.advance(hours=1)

    answer.save()
    reloaded = Attendance.objects.get(pk=answer.pk)
    ticking.advance(hours=1)
    reloaded.status = "yes"
    reloaded.save(update_fields=["status"])

    assert stored_check_in(answer) == ("yes", MONDAY)


def test_changing_to_no_keeps_when_it_last_became_yes(make_person, make_attendance, instance, ticking):
    answer = make_attendance(make_person(), instance, "yes")
    ticking.advance(hours=1)

    answer.status = "no"
    answer.save()

    assert stored_check_in(answer) == ("no", MONDAY)


def test_a_reloaded_yes_is_not_checked_in_again(make_person, make_attendance, instance, ticking):
    answer = make_attendance(make_person(), instance, "no")
    Attendance.objects.filter(pk=answer.pk).update(status="yes", checked_in_at=MONDAY)
    ticking.advance(hours=3)

    answer.refresh_from_db()
    answer.save()

    assert stored_check_in(answer) == ("yes", MONDAY)


def test_a_given_check_in_instant_is_kept(make_person, make_attendance, instance, ticking):
    at = MONDAY - timedelta(minutes=5)

    answer = make_attendance(make_person(), instance, "yes", checked_in_at=at)

    assert stored_check_in(answer) == ("yes", at)


def test_deleting_an_instance_sets_people_there_to_null(make_person, instance, make_instance):
    other = make_instance(instance.session, date(2026, 1, 22))
    here = make_person(at_active_session_instance=instance)
    elsewhere = make_person(at_active_session_instance=other)

    instance.delete()

    assert Person.objects.filter(pk=here.pk).values_list("at_active_session_instance", flat=True).get() is None
    assert Person.objects.get(pk=elsewhere.pk).at_active_session_instance_id == other.pk
    assert Person.objects.count() == 2


@pytest.mark.parametrize("entered, stored", [("ie", "IE"), (" de ", "DE"), ("", "")])
def test_person_country_is_upper_case(make_person, entered, stored):
    person = make_person(country=entered)
    assert Person.objects.get(pk=person.pk).country == stored

    person.country = entered
    person.full_clean()
    assert person.country == stored


@pytest.mark.parametrize("entered", ["ZZ", "IRL"])
def test_person_country_must_be_an_iso_code(make_person, entered):
    person = make_person()
    person.country = entered

    with pytest.raises(ValidationError) as caught:
        person.full_clean()
    assert set(caught.value.message_dict) == {"country"}
