"""``SessionInstance.location_override`` (SPEC 1, 7): shown instead of the venue wherever
the instance is shown, and in the person endpoint (null when blank). "Nearby" still
matches on the session's city and country."""

from __future__ import annotations

from datetime import date

import pytest

from people.models import Person
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from tests.site_helpers import EVENING, login_client, place

pytestmark = pytest.mark.django_db

UPSTAIRS = "Upstairs at the Swan"


@pytest.fixture
def moved(live_instance):
    live_instance.location_override = UPSTAIRS
    live_instance.save()
    return live_instance


def test_the_person_endpoint_names_the_override(moved, member):
    place(member, moved)
    body = login_client(member.user).get(f"/api/person/{member.pk}/active_session").json()
    assert body["active_session"]["location_override"] == UPSTAIRS
    assert body["active_session"]["venue_name"] == "Mueller's"


def test_a_blank_override_is_null_in_the_endpoint(live_instance, member):
    place(member, live_instance)
    body = login_client(member.user).get(f"/api/person/{member.pk}/active_session").json()
    assert body["active_session"]["location_override"] is None


def test_the_instance_page_shows_the_override_instead_of_the_venue(client, moved):
    html = client.get(f"/instances/{moved.pk}/").content.decode()
    assert f'<strong class="location-override">{UPSTAIRS}</strong> (instead of Mueller&#x27;s)' in html


def test_the_session_page_shows_the_override_on_its_upcoming_instance(client, moved, make_instance):
    other = make_instance(moved.session, date(2026, 1, 22))
    html = client.get(f"/sessions/{moved.session.slug}/").content.decode()
    upcoming = html[html.index("<h2>Coming up</h2>") :]
    assert upcoming.count(UPSTAIRS) == 1
    assert upcoming.index(UPSTAIRS) < upcoming.index(f"/instances/{other.pk}/")


def test_the_header_popup_and_the_person_page_show_the_override(moved, member):
    place(member, moved)
    client = login_client(member.user)
    html = client.get("/").content.decode()
    dot = html[html.index('id="active-session-dot"') : html.index("</a>", html.index('id="active-session-dot"'))]
    assert f'aria-label="You are at Mueller Monday, {UPSTAIRS}, Dublin: open the session"' in dot
    assert f'<span data-field="place">{UPSTAIRS}, Dublin</span>' in dot
    person_page = client.get(f"/people/{member.pk}/").content.decode()
    where = person_page[person_page.index('id="current-location"') :]
    assert f"Mueller Monday</a>, {UPSTAIRS}, Dublin" in where
    assert "Mueller&#x27;s" not in where[: where.index("</dd>")]


def test_the_nearby_list_shows_the_override_and_matches_on_the_sessions_city(
    client, at_evening, make_session, make_instance
):
    here = make_instance(make_session(name="Here", city="Dublin"), date(2026, 1, 15))
    # The override names another place, but the session is in Dublin: still nearby.
    moved = make_instance(
        make_session(name="Moved", venue_name="The Swan", city="Dublin"),
        date(2026, 1, 15),
        location_override="Cork Opera House foyer",
    )
    update_active_sessions(EVENING - clock.lookahead())
    html = client.get(f"/instances/{here.pk}/").content.decode()
    nearby = html[html.index('id="live-nearby"') :]
    assert f"/instances/{moved.pk}/" in nearby
    assert "Cork Opera House foyer" in nearby and "The Swan" not in nearby


def test_the_admin_instance_list_shows_the_override(admin_client, moved):
    html = admin_client.get("/admin/sessions_app/sessioninstance/").content.decode()
    assert "column-location_override" in html and UPSTAIRS in html
    change = admin_client.get(f"/admin/sessions_app/sessioninstance/{moved.pk}/change/").content.decode()
    assert f'name="location_override" value="{UPSTAIRS}"' in change


def test_the_override_is_editable_in_the_admin(admin_client, live_instance):
    session = live_instance.session
    response = admin_client.post(
        f"/admin/sessions_app/sessioninstance/{live_instance.pk}/change/",
        {
            "session": session.pk,
            "date": "2026-01-15",
            "start_time": "21:00",
            "end_time": "23:30",
            "location_override": "Back room",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    live_instance.refresh_from_db()
    assert live_instance.location_override == "Back room"
    assert Person.objects.count() == 0
