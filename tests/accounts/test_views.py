"""Profile (name, city, country, sharing), the private feed's renewal, account deletion
and "My sessions"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.forms import SHARE_LOCATION_EFFECT
from people.models import Attendance, Person
from sessions_app.models import SessionInstance
from tests.site_helpers import login_client, place

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def member(make_person):
    user = User.objects.create_user("aoife", email="aoife@example.com", password="pw")
    return make_person(user=user, first_name="Aoife", last_name="Byrne")


PROFILE = {"first_name": "Aoife", "last_name": "Ní Bhriain", "city": "Galway", "country": "IE", "share_location": "on"}


def test_profile_shows_the_fields_the_sharing_sentence_and_the_feed(member):
    client = login_client(member.user)
    html = client.get("/accounts/profile/").content.decode()
    assert SHARE_LOCATION_EFFECT.replace("'", "&#x27;") in html
    assert '<option value="IE" selected>Ireland</option>' in html
    member.refresh_from_db()
    assert f"webcal://testserver/calendar/{member.calendar_token}.ics" in html
    assert f"http://testserver/calendar/{member.calendar_token}.ics" in html


def test_profile_saves_name_city_country_and_sharing(member):
    client = login_client(member.user)
    response = client.post("/accounts/profile/", {**PROFILE, "country": "DE", "share_location": ""})
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.last_name, member.city, member.country, member.share_location) == (
        "Ní Bhriain",
        "Galway",
        "DE",
        False,
    )


@pytest.mark.parametrize("country", ["ZZ", "Ireland", "ie", "IRL"])
def test_an_unknown_country_is_a_form_error_and_changes_nothing(member, country):
    client = login_client(member.user)
    response = client.post("/accounts/profile/", {**PROFILE, "country": country, "city": "Cork"})
    assert response.status_code == 200 and "country" in response.context["form"].errors
    member.refresh_from_db()
    assert (member.city, member.country) == ("Dublin", "IE")


def test_profile_needs_a_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_account_made_in_the_admin_gets_its_person_on_the_profile(client):
    user = User.objects.create_user("staffmade", password="pw", first_name="Seán")
    assert login_client(user).get("/accounts/profile/").status_code == 200
    person = Person.objects.get(user=user)
    assert person.first_name == "Seán" and person.calendar_token


def test_renewing_the_feed_retires_the_old_address(member):
    client = login_client(member.user)
    client.get("/accounts/profile/")
    member.refresh_from_db()
    old = member.calendar_token
    assert client.get(f"/calendar/{old}.ics").status_code == 200
    assert client.get("/accounts/profile/calendar/renew/").status_code == 405  # POST only
    assert client.post("/accounts/profile/calendar/renew/").status_code == 302
    member.refresh_from_db()
    assert member.calendar_token != old
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{member.calendar_token}.ics").status_code == 200
    assert member.calendar_token in client.get("/accounts/profile/").content.decode()


def test_sharing_off_hides_the_person_from_here_now_for_others(live_instance, member, make_person, make_attendance):
    other_user = User.objects.create_user("brid", password="pw")
    make_person(user=other_user, first_name="Bríd")
    make_attendance(member, live_instance, "yes")
    place(member, live_instance)
    other = login_client(other_user)

    def here_now() -> str:
        html = other.get(f"/instances/{live_instance.pk}/").content.decode()
        return html.split("<h2>Here now")[1].split("<h2>")[0]

    assert "Aoife Byrne" in here_now()
    login_client(member.user).post("/accounts/profile/", {**PROFILE, "last_name": "Byrne", "share_location": ""})
    assert "Aoife Byrne" not in here_now()


def test_deleting_an_account_takes_the_user_the_person_and_their_answers_only(
    live_instance, member, make_person, make_attendance
):
    other_user = User.objects.create_user("brid", password="pw")
    other = make_person(user=other_user, first_name="Bríd")
    mine = make_attendance(member, live_instance, "yes")
    theirs = make_attendance(other, live_instance, "yes")
    place(member, live_instance)
    place(other, live_instance)
    client = login_client(member.user)
    elsewhere = login_client(member.user)  # the same account logged in on another device
    url = f"/people/{member.pk}/delete/"
    page = client.get(url)
    assert page.status_code == 200 and b"Delete my account" in page.content

    refused = client.post(url, {})  # not confirmed
    assert refused.status_code == 200 and "confirm" in refused.context["form"].errors
    assert Person.objects.filter(pk=member.pk).exists()

    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert not User.objects.filter(pk=member.user.pk).exists()
    assert not Person.objects.filter(pk=member.pk).exists()
    assert not Attendance.objects.filter(pk=mine.pk).exists()
    # Nothing of anyone else changes.
    assert Attendance.objects.filter(pk=theirs.pk, status="yes").exists()
    other.refresh_from_db()
    assert other.at_active_session_instance_id == live_instance.pk
    assert SessionInstance.objects.filter(pk=live_instance.pk, is_active=True).exists()
    # Gone from every page at once; the other device is logged out.
    html = login_client(other_user).get(f"/instances/{live_instance.pk}/").content.decode()
    assert "Aoife" not in html and "Bríd" in html
    assert elsewhere.get("/accounts/profile/").status_code == 302
    assert 'id="active-session-dot"' not in elsewhere.get("/").content.decode()
    # Deleting twice: 404.
    assert client.post(url, {"confirm": "on"}).status_code == 404
    assert elsewhere.post(url, {"confirm": "on"}).status_code == 404


def test_nobody_can_delete_someone_elses_account(member, make_person):
    other_user = User.objects.create_user("brid", password="pw")
    make_person(user=other_user)
    url = f"/people/{member.pk}/delete/"
    assert login_client(other_user).post(url, {"confirm": "on"}).status_code == 404
    anonymous = Client().post(url, {"confirm": "on"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert Person.objects.filter(pk=member.pk).exists() and User.objects.filter(pk=member.user_id).exists()


def test_my_sessions_live_first_then_in_time_order_and_recent_history(
    live_instance, member, make_session, make_instance, make_attendance
):
    session = live_instance.session
    today = live_instance.date
    later = make_instance(session, today + timedelta(days=7))
    sooner = make_instance(session, today + timedelta(days=1))
    elsewhere = make_instance(make_session(timezone="America/New_York"), today + timedelta(days=3))
    declined = make_instance(session, today + timedelta(days=2))
    past = make_instance(session, today - timedelta(days=7))
    older = make_instance(session, today - timedelta(days=14))
    for instance, status in [
        (later, "maybe"),
        (sooner, "yes"),
        (elsewhere, "yes"),
        (declined, "no"),
        (past, "yes"),
        (older, "maybe"),
        (live_instance, "yes"),
    ]:
        make_attendance(member, instance, status)
    response = login_client(member.user).get("/accounts/my-sessions/")
    upcoming = [a.session_instance.pk for a in response.context["upcoming"]]
    history = [a.session_instance.pk for a in response.context["history"]]
    assert upcoming == [live_instance.pk, sooner.pk, elsewhere.pk, later.pk]
    assert history == [past.pk, older.pk]
    assert "LIVE NOW" in response.content.decode()


def test_my_sessions_is_a_fixed_number_of_queries(live_instance, member, make_instance, make_attendance):
    client = login_client(member.user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/accounts/my-sessions/").status_code == 200
        return len(queries)

    make_attendance(member, live_instance, "yes")
    count()  # the first visit also gives the person a calendar token
    few = count()
    for n in range(1, 30):
        make_attendance(member, make_instance(live_instance.session, live_instance.date + timedelta(days=n)), "maybe")
        make_attendance(member, make_instance(live_instance.session, live_instance.date - timedelta(days=n)), "yes")
    assert count() == few


def test_session_page_offers_the_calendar(client, make_session):
    session = make_session(slug="mueller")
    html = client.get("/sessions/mueller/").content.decode()
    assert 'href="webcal://testserver/sessions/mueller/calendar.ics"' in html
    assert 'href="http://testserver/sessions/mueller/calendar.ics"' in html
    assert session.pk
