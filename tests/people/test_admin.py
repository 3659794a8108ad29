"""The Django admin of people: the person and answer lists (filters, search, where each
person is now) at a query count that does not grow with the rows, and the person form's
answers inline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from people.models import Attendance, Person
from tests.admin_helpers import change_form, changelist_pks, page_queries
from tests.site_helpers import EVENING

pytestmark = pytest.mark.django_db

PEOPLE = "/admin/people/person/"
ANSWERS = "/admin/people/attendance/"
TONIGHT = EVENING.date()


@pytest.fixture
def crowd(live_instance, make_session, make_instance, make_person, make_attendance) -> dict:
    """Aoife at the live Mueller Monday; Brian (private, Cork) going to Cork; Cara in New York."""
    cork = make_instance(make_session(name="Cork Trad", city="Cork"), TONIGHT + timedelta(days=2))
    aoife = make_person(
        first_name="Aoife",
        last_name="Byrne",
        email="aoife@example.org",
        user=User.objects.create_user("aoife_b"),
        at_active_session_instance=live_instance,
    )
    brian = make_person(first_name="Brian", last_name="Walsh", city="Cork", share_location=False)
    cara = make_person(first_name="Cara", last_name="Doyle", city="New York", country="US")
    return {
        "aoife": aoife,
        "brian": brian,
        "cara": cara,
        "aoife_yes": make_attendance(aoife, live_instance, "yes"),
        "brian_maybe": make_attendance(brian, cork, "maybe"),
        "cara_no": make_attendance(cara, live_instance, "no"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"aoife", "brian", "cara"}),
        ("?country__exact=US", {"cara"}),
        ("?city__exact=Cork", {"brian"}),
        ("?share_location__exact=0", {"brian"}),
        ("?at_active_session_instance__isempty=0", {"aoife"}),
        ("?at_active_session_instance__isempty=1", {"brian", "cara"}),
        ("?q=byrne", {"aoife"}),  # last name
        ("?q=aoife@example", {"aoife"}),  # email
        ("?q=aoife_b", {"aoife"}),  # username
        ("?q=york", {"cara"}),  # city
        ("?q=nobody", set()),
    ],
)
def test_the_person_list_filters_and_searches(admin_client, crowd, query, expected):
    assert changelist_pks(admin_client, PEOPLE + query) == {crowd[name].pk for name in expected}


def test_the_person_list_says_where_each_person_is_now(admin_client, crowd):
    page = admin_client.get(PEOPLE).content.decode()
    assert "Mueller Monday (since 2026-01-15 21:00 GMT)" in page
    assert page.count("Mueller Monday (since") == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"aoife_yes", "brian_maybe", "cara_no"}),
        ("?status__exact=maybe", {"brian_maybe"}),
        ("?session_instance__is_active__exact=1", {"aoife_yes", "cara_no"}),
        ("?session_instance__session__city__exact=Cork", {"brian_maybe"}),
        ("?q=walsh", {"brian_maybe"}),  # person
        ("?q=mueller", {"aoife_yes", "cara_no"}),  # session name
        ("?q=nobody", set()),
    ],
)
def test_the_answer_list_filters_and_searches(admin_client, crowd, query, expected):
    assert changelist_pks(admin_client, ANSWERS + query) == {crowd[name].pk for name in expected}


def test_an_answer_changed_through_the_person_inline_is_saved(admin_client, crowd):
    brian = crowd["brian"]
    url = f"{PEOPLE}{brian.pk}/change/"
    data = change_form(admin_client, url, "person_form")
    assert data["attendances-0-id"] == [str(crowd["brian_maybe"].pk)]
    data["attendances-0-status"] = "no"
    assert admin_client.post(url, data).status_code == 302
    assert Attendance.objects.get(pk=crowd["brian_maybe"].pk).status == "no"


def test_a_second_answer_to_the_same_instance_is_a_form_error(admin_client, crowd, live_instance):
    cara = crowd["cara"]
    url = f"{PEOPLE}{cara.pk}/change/"
    data = change_form(admin_client, url, "person_form")
    data.update(
        {
            "attendances-TOTAL_FORMS": "2",
            "attendances-1-id": "",
            "attendances-1-person": str(cara.pk),
            "attendances-1-session_instance": str(live_instance.pk),
            "attendances-1-status": "yes",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert 'class="errornote"' in response.content.decode()
    assert list(Attendance.objects.filter(person=cara).values_list("status", flat=True)) == ["no"]


@pytest.mark.parametrize("changelist", [PEOPLE, f"{PEOPLE}?at_active_session_instance__isempty=0", ANSWERS])
def test_changelist_queries_do_not_grow_with_the_rows(
    admin_client, live_instance, make_person, make_attendance, changelist
):
    def grow_to(n: int) -> None:
        while Person.objects.count() < n:
            n_now = Person.objects.count()
            person = make_person(
                user=User.objects.create_user(f"player{n_now}"), at_active_session_instance=live_instance
            )
            make_attendance(person, live_instance, "yes")

    grow_to(3)
    with_three = page_queries(admin_client, changelist)
    grow_to(30)
    assert len(changelist_pks(admin_client, changelist)) == 30
    assert page_queries(admin_client, changelist) == with_three
