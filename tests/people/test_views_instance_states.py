"""Instance states (upcoming / live / ended / cancelled) with only the actions that make
sense; answering ahead an occurrence that has no instance yet; times read right."""

from __future__ import annotations

from datetime import date, time

import pytest
import recurrence
from django.contrib.auth.models import User
from django.test import Client

from people.models import Attendance
from people.views import PENDING_KEY
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SessionInstance
from sessions_app.upcoming import next_occurrences
from tests.site_helpers import EVENING, login_client

pytestmark = pytest.mark.django_db


def buttons(html: str) -> list[str]:
    import re

    main = html[html.index("<main>") :]
    return re.findall(r"<button[^>]*>([^<]+)</button>", main)


def test_upcoming_more_than_a_day_ahead_answers_only(at_evening, member, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 22))
    html = login_client(member.user).get(f"/instances/{instance.pk}/").content.decode()
    assert buttons(html) == ["Going", "Maybe", "Not going"]
    assert "Are you going?" in html


def test_upcoming_on_the_day_offers_i_am_here(at_evening, member, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 16))
    html = login_client(member.user).get(f"/instances/{instance.pk}/").content.decode()
    assert buttons(html) == ["I'm here", "Going", "Maybe", "Not going"]


def test_live_check_in_then_leave(live_instance, member):
    client = login_client(member.user)
    url = f"/instances/{live_instance.pk}/"
    assert buttons(client.get(url).content.decode())[0] == "I'm here"
    client.post(f"{url}check-in/")
    member.refresh_from_db()
    assert member.at_active_session_instance_id == live_instance.pk
    assert buttons(client.get(url).content.decode())[0] == "I've left"
    response = client.post(f"{url}leave/", follow=True)
    assert "You have left Mueller Monday" in response.content.decode()
    member.refresh_from_db()
    attendance = Attendance.objects.get(person=member)
    assert member.at_active_session_instance_id is None and attendance.left_at is not None
    assert attendance.status == "yes"
    assert buttons(client.get(url).content.decode())[0] == "I'm here"


def test_leave_on_an_instance_that_is_not_live_is_refused(at_evening, member, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 22))
    response = login_client(member.user).post(f"/instances/{instance.pk}/leave/", follow=True)
    assert "not live" in response.content.decode()


def test_ended_shows_who_came_and_no_buttons(at_evening, member, make_session, make_instance, make_attendance):
    instance = make_instance(make_session(), date(2026, 1, 8))
    make_attendance(member, instance, "yes")
    html = login_client(member.user).get(f"/instances/{instance.pk}/").content.decode()
    assert "This session instance has ended." in html and "Who came (1)" in html and "Aoife Byrne" in html
    assert buttons(html) == ["Log out"] or buttons(html) == []


def test_cancelled_shows_who_had_said_yes_to_staff_only(
    at_evening, member, make_session, make_instance, make_attendance
):
    instance = make_instance(make_session(), date(2026, 1, 20), is_cancelled=True)
    make_attendance(member, instance, "yes")
    staff = login_client(User.objects.create_user("boss", is_staff=True))
    html = staff.get(f"/instances/{instance.pk}/").content.decode()
    assert "Had said they were going (1)" in html and "Aoife Byrne" in html
    other = login_client(User.objects.create_user("ciaran")).get(f"/instances/{instance.pk}/").content.decode()
    assert "Aoife Byrne" not in other and "Cancelled" in other


@pytest.fixture
def fortnightly(at_evening, make_session):
    return make_session(
        name="Fortnightly",
        recurrence=recurrence.deserialize("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA"),
        initiation_date=date(2026, 1, 3),
        start_time=time(20, 0),
        end_time=time(23, 0),
        auto_create_instances=True,
        auto_create_hours_ahead=168,
    )


def test_the_session_page_lists_the_next_eight_occurrences_created_or_not(client, fortnightly):
    occurrences = next_occurrences(fortnightly, now=clock.now())
    assert [o.date for o in occurrences] == [date.fromordinal(date(2026, 1, 17).toordinal() + 14 * n) for n in range(8)]
    assert all(o.instance is None for o in occurrences)
    html = client.get(f"/sessions/{fortnightly.slug}/").content.decode()
    assert html.count("/on/2026-") == 8
    assert "Saturday 17 January 2026, 20:00 GMT – 23:00 GMT" in " ".join(
        __import__("re").sub(r"<[^>]+>", " ", html).split()
    )


def test_answering_ahead_creates_the_instance_as_auto_create_would(fortnightly, member):
    client = login_client(member.user)
    response = client.post(f"/sessions/{fortnightly.slug}/on/2026-02-28/answer/", {"status": "yes"})
    instance = SessionInstance.objects.get(session=fortnightly, date=date(2026, 2, 28))
    assert response["Location"] == f"/instances/{instance.pk}/"
    assert instance.auto_created and (instance.start_time, instance.end_time) == (time(20, 0), time(23, 0))
    assert Attendance.objects.get(person=member, session_instance=instance).status == "yes"
    # Again: the same instance.
    client.post(f"/sessions/{fortnightly.slug}/on/2026-02-28/answer/", {"status": "maybe"})
    assert SessionInstance.objects.filter(session=fortnightly, date=date(2026, 2, 28)).count() == 1
    # The sweep's auto-create, with its horizon up to and past that date, adds no second one.
    update_active_sessions(date_to_instant(date(2026, 2, 25)), full=True)
    assert SessionInstance.objects.filter(session=fortnightly, date=date(2026, 2, 28)).count() == 1
    assert next_occurrences(fortnightly, now=EVENING)[3].instance == instance


def date_to_instant(day):
    from datetime import UTC, datetime

    return datetime.combine(day, time(12, 0), tzinfo=UTC)


@pytest.mark.parametrize("on", ["2026-02-21", "2026-13-01", "soon", "2025-12-27"])
def test_a_date_that_is_not_an_occurrence_is_404(fortnightly, member, on):
    response = login_client(member.user).post(f"/sessions/{fortnightly.slug}/on/{on}/answer/", {"status": "yes"})
    assert response.status_code == 404
    assert not SessionInstance.objects.exists()


def test_a_spring_forward_night_names_each_zone(client, make_session, make_instance, at_evening):
    session = make_session(start_time=time(21, 30), end_time=time(2, 0))
    instance = make_instance(session, date(2026, 3, 28))
    import re

    text = " ".join(re.sub(r"<[^>]+>", " ", client.get(f"/instances/{instance.pk}/").content.decode()).split())
    assert "Saturday 28 March 2026, 21:30 GMT – Sunday 29 March 2026, 02:00 IST" in text


@pytest.mark.parametrize("status", ["zzz", "", "YES"])
def test_an_answer_that_is_not_yes_maybe_or_no_creates_nothing(fortnightly, member, status):
    client = login_client(member.user)
    response = client.post(f"/sessions/{fortnightly.slug}/on/2026-02-28/answer/", {"status": status}, follow=True)
    assert response.redirect_chain == [(f"/sessions/{fortnightly.slug}/", 302)]
    assert "Unknown answer" in response.content.decode()
    assert not SessionInstance.objects.exists() and not Attendance.objects.exists()
    # Logged out, nothing is kept for after the login either.
    anonymous = Client()
    anonymous.post(f"/sessions/{fortnightly.slug}/on/2026-02-28/answer/", {"status": status})
    assert PENDING_KEY not in anonymous.session
