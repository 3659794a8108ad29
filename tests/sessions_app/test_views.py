"""Server-rendered session pages: list, session, instance."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from people.models import Person
from sessions_app.models import Session
from tests.site_helpers import login_client, place

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    """The page's text without tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row(html: str, session_id: int) -> str:
    """The list item carrying ``data-session-id``."""
    match = re.search(rf'<li class="card" data-session-id="{session_id}">(.*?)</li>', html, re.S)
    assert match, f"no row for session {session_id}"
    return match.group(1)


def test_home_groups_sessions_by_place_with_live_badge(client, live_instance, make_session):
    quiet = make_session(name="Quiet Night", city="Galway")
    berlin = make_session(name="Saengerrunde", city="Berlin", country="DE", timezone="Europe/Berlin")
    html = client.get("/?country=").content.decode()
    html = html[html.index('id="sessions"') :]
    assert "LIVE NOW" in row(html, live_instance.session_id)
    assert "LIVE NOW" not in row(html, quiet.pk)
    # Grouped by country, then city: Berlin (DE) before Dublin and Galway (IE).
    assert html.index("Berlin, Germany") < html.index("Dublin, Ireland") < html.index("Galway, Ireland")
    assert html.index(berlin.name) < html.index("Mueller Monday") < html.index(quiet.name)
    assert f'href="/sessions/{quiet.slug}/"' in html


def test_home_shows_the_next_start_in_local_time(client, at_evening, make_session, make_instance):
    session = make_session(
        name="Berlin night",
        city="Berlin",
        country="DE",
        timezone="Europe/Berlin",
        start_time=time(20, 0),
        end_time=time(23, 0),
    )
    make_instance(session, date(2026, 1, 22))
    assert "Next: Thu 22 Jan, 20:00 CET" in text(row(client.get("/").content.decode(), session.pk))


@pytest.mark.parametrize("logged_in", [False, True])
def test_home_query_count_does_not_grow_with_sessions(
    make_session, make_instance, member, django_assert_num_queries, logged_in
):
    client = login_client(member.user) if logged_in else Client()

    def queries_for(count: int) -> int:
        while Session.objects.count() < count:
            make_instance(make_session(), date(2026, 1, 20))
        cache.clear()
        # Anonymous: 1 the ids of the live instances (none here, so not 2), 1 those
        # starting within a day, 1 the countries (cached afterwards), 1 the page of
        # sessions with their next start, 1 the live instances of those sessions.
        # Logged in: + 1 the user (the session is in the cache), 1 the person with where
        # they are.
        expected = 7 if logged_in else 5
        with django_assert_num_queries(expected) as captured:
            response = client.get("/")
        assert response.content.decode().count('class="card" data-session-id="') == min(count, 25)
        return len(captured)

    # Measured, not the constant asserted above: the same count at 2 and 12 sessions.
    assert queries_for(2) == queries_for(12)


def test_session_detail_shows_facts_badge_and_instances(client, live_instance, make_instance):
    session = live_instance.session
    past = make_instance(session, date(2026, 1, 8))
    later = make_instance(session, date(2026, 1, 22), is_cancelled=True)
    html = client.get(f"/sessions/{session.slug}/").content.decode()
    for fact in ("Mueller&#x27;s", "1 Quay St", "Dublin, Ireland", "Europe/Dublin", "21:00–23:30 local time"):
        assert fact in html
    header = html[html.index(f'data-session-id="{session.pk}"') : html.index("</h1>")]
    assert "LIVE NOW" in header
    upcoming, recently = html.split("<h2>Coming up</h2>")[1].split("<h2>Recently</h2>")
    assert f"/instances/{live_instance.pk}/" in upcoming and f"/instances/{later.pk}/" in upcoming
    assert upcoming.index(f"/instances/{live_instance.pk}/") < upcoming.index(f"/instances/{later.pk}/")
    assert "Cancelled" in upcoming
    assert f"/instances/{past.pk}/" in recently and f"/instances/{past.pk}/" not in upcoming
    assert "Thursday 15 January 2026, 21:00 GMT – 23:30 GMT" in text(upcoming)


def test_session_detail_without_live_instance_has_no_badge(client, at_evening, make_session):
    session = make_session()
    html = client.get(f"/sessions/{session.slug}/").content.decode()
    assert "LIVE NOW" not in html and "Nothing scheduled yet." in html


def test_unknown_pages_are_404(client):
    response = client.get("/sessions/no-such-session/")
    assert response.status_code == 404 and b"Not found" in response.content
    assert client.get("/instances/123456/").status_code == 404
    assert client.get("/instances/99999999999999999999999/").status_code == 404


def test_instance_detail_local_time_lists_and_buttons(live_instance, member, make_person, make_attendance):
    make_attendance(member, live_instance, "yes")
    make_attendance(make_person(first_name="Brid", last_name="Maybe"), live_instance, "maybe")
    make_attendance(make_person(first_name="Noel", last_name="Nope"), live_instance, "no")
    html = login_client(member.user).get(f"/instances/{live_instance.pk}/").content.decode()
    assert "Thursday 15 January 2026, 21:00 GMT – 23:30 GMT" in text(html)
    going = html[html.index('id="going"') : html.index("</ul>", html.index('id="going"'))]
    maybe = html[html.index('id="maybe"') : html.index("</ul>", html.index('id="maybe"'))]
    assert "Aoife Byrne" in going and "Brid Maybe" in maybe and "Noel" not in html
    # Live and going: "I've left" instead of "I'm here".
    for label in ("Going", "Maybe", "Not going", "I've left"):
        assert f">{label}</button>" in html
    assert "I'm here</button>" not in html
    assert re.search(r'value="yes" aria-pressed="true">Going<', html)
    assert re.search(r'value="maybe" aria-pressed="false">Maybe<', html)
    assert html.count('<form method="post"') == 5  # four buttons + log out


def test_instance_detail_in_another_zone_and_past_midnight(client, at_evening, make_session, make_instance):
    session = make_session(
        timezone="America/New_York", city="New York", country="US", start_time=time(21, 30), end_time=time(1, 0)
    )
    instance = make_instance(session, date(2026, 7, 14))
    page = text(client.get(f"/instances/{instance.pk}/").content.decode())
    assert "Tuesday 14 July 2026, 21:30 EDT – Wednesday 15 July 2026, 01:00 EDT" in page


def test_anonymous_sees_counts_not_names(client, live_instance, member, make_attendance):
    make_attendance(member, live_instance, "yes")
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    assert "Going (1)" in html and "Aoife" not in html and "Log in to see who is going." in html


def test_cancelled_instance_shows_notice_and_no_yes_buttons(client, at_evening, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 20), is_cancelled=True)
    html = client.get(f"/instances/{instance.pk}/").content.decode()
    assert "Cancelled: this session instance does not take place." in html
    # Nothing to answer on a cancelled instance.
    assert "</button>" not in html[html.index("<main>") :]


def test_here_now_respects_share_location(live_instance, member, make_person, make_attendance):
    shy = make_person(first_name="Shy", last_name="Player", share_location=False)
    open_ = make_person(first_name="Open", last_name="Player")
    for person in (shy, open_):
        make_attendance(person, live_instance, "yes")
        place(person, live_instance)
    url = f"/instances/{live_instance.pk}/"

    def here_now(client) -> str:
        html = client.get(url).content.decode()
        return html[html.index('id="here-now"') : html.index("</ul>", html.index('id="here-now"'))]

    assert "Open Player" in here_now(login_client(member.user))
    assert "Shy Player" not in here_now(login_client(member.user))
    assert "Shy Player" in here_now(login_client(User.objects.create_user("boss", is_staff=True)))


def test_other_live_sessions_in_the_city_with_check_in(
    client, at_evening, live_instance, make_session, make_instance, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # their hooks activate them, as on the site
        nearby = make_instance(make_session(name="The Cobblestone", city=" dublin "), date(2026, 1, 15))
        cork = make_instance(make_session(name="Sin É", city="Cork"), date(2026, 1, 15))
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    section = html[html.index("Other live sessions in Dublin") :]
    assert "The Cobblestone" in section and "Sin" not in section
    assert f'action="/instances/{nearby.pk}/check-in/"' in section
    assert f"/instances/{cork.pk}/" not in html


def test_header_dot_for_a_person_at_a_live_instance(live_instance, member):
    client = login_client(member.user)
    assert re.search(r'id="active-session-dot" href="#" hidden', client.get("/").content.decode())
    place(member, live_instance)
    html = client.get("/").content.decode()
    dot = html[html.index('id="active-session-dot"') : html.index("</a>", html.index('id="active-session-dot"'))]
    assert f'href="/instances/{live_instance.pk}/"' in dot and " hidden" not in dot
    assert 'aria-label="You are at Mueller Monday, Mueller&#x27;s, Dublin: open the session"' in dot
    assert "Thursday 15 January 2026, 21:00 GMT – 23:30 GMT" in dot
    assert f'data-person-id="{member.pk}"' in html


def test_no_dot_for_anonymous_visitors(client, live_instance):
    html = client.get("/").content.decode()
    assert "active-session-dot" not in html and "data-person-id" not in html
    assert 'data-poll-ms="60000"' in html


def test_login_page_logs_in_and_logout_posts(member):
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"login": "aoife", "password": "pw", "next": f"/people/{member.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/people/{member.pk}/"
    assert client.get(f"/people/{member.pk}/").status_code == 200
    assert client.post("/accounts/logout/")["Location"] == "/"
    assert client.get(f"/people/{member.pk}/").status_code == 302
    assert Person.objects.filter(pk=member.pk).exists()


def test_sessions_path_leads_to_the_session_list(client):
    response = client.get("/sessions/")
    assert (response.status_code, response["Location"]) == (302, "/")
