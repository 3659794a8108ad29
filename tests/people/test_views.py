"""The person page and the answer / "I'm here" buttons on an instance page."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages

from people import views
from people.models import Attendance, Person
from sessions_app import clock, models
from sessions_app.active_sessions import update_active_sessions
from tests.site_helpers import EVENING, login_client, place

pytestmark = pytest.mark.django_db
ON = date(2026, 1, 15)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("status, label", [("yes", "Going"), ("maybe", "Maybe"), ("no", "Not going")])
def test_answer_buttons_record_the_answer_and_redirect(live_instance, member, status, label):
    client = login_client(member.user)
    response = client.post(f"/instances/{live_instance.pk}/answer/", {"status": status})
    assert response.status_code == 302 and response.url == f"/instances/{live_instance.pk}/"
    assert Attendance.objects.get(person=member, session_instance=live_instance).status == status
    assert messages_of(response) == [f"Your answer for Mueller Monday: {label}."]
    page = client.get(response.url).content.decode()
    assert f'value="{status}" aria-pressed="true">{label}<' in page


def test_not_going_moves_the_person_off_at_once(
    live_instance, member, make_attendance, django_capture_on_commit_callbacks
):
    make_attendance(member, live_instance, "yes")
    place(member, live_instance)
    with django_capture_on_commit_callbacks(execute=True):
        login_client(member.user).post(f"/instances/{live_instance.pk}/answer/", {"status": "no"})
    member.refresh_from_db()
    assert member.at_active_session_instance_id is None


def test_unknown_answer_is_refused_with_a_message(live_instance, member):
    response = login_client(member.user).post(f"/instances/{live_instance.pk}/answer/", {"status": "perhaps"})
    assert messages_of(response) == ["Unknown answer 'perhaps': use yes, maybe or no."]
    assert not Attendance.objects.exists()


def test_check_in_on_a_live_instance_places_the_person(live_instance, member):
    client = login_client(member.user)
    response = client.post(f"/instances/{live_instance.pk}/check-in/")
    assert response.url == f"/instances/{live_instance.pk}/"
    member.refresh_from_db()
    assert member.at_active_session_instance_id == live_instance.pk
    assert Attendance.objects.get(person=member).status == "yes"
    assert messages_of(response) == ["You are checked in at Mueller Monday."]
    # The header dot is there on the very next page.
    assert f'id="active-session-dot" href="/instances/{live_instance.pk}/"' in client.get(response.url).content.decode()


def test_check_in_elsewhere_from_the_nearby_list(
    live_instance, member, make_session, make_instance, make_attendance, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # its hook activates it, as on the site
        other = make_instance(make_session(name="The Cobblestone"), date(2026, 1, 15))
    make_attendance(member, live_instance, "yes")
    place(member, live_instance)
    response = login_client(member.user).post(f"/instances/{other.pk}/check-in/")
    assert response.url == f"/instances/{other.pk}/"
    member.refresh_from_db()
    assert member.at_active_session_instance_id == other.pk


def test_check_in_before_it_is_live_records_yes_only(at_evening, member, make_session, make_instance):
    later = make_instance(make_session(name="Tomorrow"), date(2026, 1, 16))
    response = login_client(member.user).post(f"/instances/{later.pk}/check-in/")
    member.refresh_from_db()
    assert member.at_active_session_instance_id is None
    assert Attendance.objects.get(person=member, session_instance=later).status == "yes"
    assert messages_of(response) == ["You are going to Tomorrow; you will show as here once it is live."]


def test_cancelled_instance_check_in_shows_the_message(at_evening, member, make_session, make_instance):
    cancelled = make_instance(make_session(), date(2026, 1, 15), is_cancelled=True)
    client = login_client(member.user)
    response = client.post(f"/instances/{cancelled.pk}/check-in/", follow=True)
    assert response.redirect_chain == [(f"/instances/{cancelled.pk}/", 302)]
    assert "This session instance is cancelled: you cannot check in." in response.content.decode()
    assert not Attendance.objects.exists()
    going = client.post(f"/instances/{cancelled.pk}/answer/", {"status": "yes"}, follow=True)
    assert "This session instance is cancelled." in going.content.decode()
    assert not Attendance.objects.exists()


@pytest.mark.parametrize("action, status", [("answer", "maybe"), ("check-in", "yes")])
def test_a_click_made_logged_out_is_carried_out_after_login(client, live_instance, member, action, status):
    url = f"/instances/{live_instance.pk}/{action}/"
    response = client.post(url, {"status": status})
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=%2Fresume%2F"
    assert not Attendance.objects.exists()
    response = client.post("/accounts/login/", {"login": "aoife", "password": "pw", "next": "/resume/"})
    assert response.url == "/resume/"
    response = client.get("/resume/")
    assert response.url == f"/instances/{live_instance.pk}/"
    assert Attendance.objects.get(person=member).status == status
    # Once only: a second visit does nothing more.
    assert client.get("/resume/").url == "/"


def test_a_get_on_a_button_url_is_405(live_instance, member):
    response = login_client(member.user).get(f"/instances/{live_instance.pk}/answer/")
    assert response.status_code == 405
    assert not Attendance.objects.exists()


def test_buttons_are_csrf_protected(live_instance, member):
    client = login_client(member.user, enforce_csrf_checks=True)
    assert client.post(f"/instances/{live_instance.pk}/check-in/").status_code == 403
    assert not Attendance.objects.exists()
    client.get(f"/instances/{live_instance.pk}/")
    token = client.cookies["csrftoken"].value
    response = client.post(f"/instances/{live_instance.pk}/check-in/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Attendance.objects.get().status == "yes"


def test_an_account_without_a_person_gets_one_on_first_answer(live_instance):
    user = User.objects.create_user("newbie", first_name="Nora", last_name="New", email="nora@example.com")
    login_client(user).post(f"/instances/{live_instance.pk}/answer/", {"status": "maybe"})
    person = Person.objects.get(user=user)
    assert (person.first_name, person.last_name, person.email) == ("Nora", "New", "nora@example.com")
    assert Attendance.objects.get(person=person).status == "maybe"


def test_person_page_requires_login(client, member):
    response = client.get(f"/people/{member.pk}/")
    assert response.url == f"/accounts/login/?next=/people/{member.pk}/"


def test_person_page_shows_where_a_sharing_person_is(live_instance, member):
    place(member, live_instance)
    html = login_client(User.objects.create_user("ciaran")).get(f"/people/{member.pk}/").content.decode()
    assert "<h1>Aoife Byrne</h1>" in html and "Dublin, IE" in html
    assert f'At <a href="/instances/{live_instance.pk}/">Mueller Monday</a>' in html


@pytest.mark.parametrize("viewer, visible", [("other", False), ("self", True), ("staff", True)])
def test_person_page_hides_an_unshared_location(live_instance, member, viewer, visible):
    Person.objects.filter(pk=member.pk).update(share_location=False)
    place(member, live_instance)
    users = {
        "other": User.objects.create_user("ciaran"),
        "self": member.user,
        "staff": User.objects.create_user("boss", is_staff=True),
    }
    html = login_client(users[viewer]).get(f"/people/{member.pk}/").content.decode()
    assert ("Mueller Monday" in html) == visible
    assert ("does not share where they are" in html) == (not visible)


def test_person_nowhere_and_unknown_person(member):
    client = login_client(member.user)
    assert "Not at a session right now." in client.get(f"/people/{member.pk}/").content.decode()
    assert client.get("/people/424242/").status_code == 404


def test_logged_in_header_links_to_own_page(member):
    html = login_client(member.user).get("/").content.decode()
    assert f'href="/people/{member.pk}/">aoife</a>' in html


# --- the instance page's other live sessions in its city -----------------------------


@pytest.fixture
def live_in(make_session, make_instance):
    """``live_in(city, "HH:MM", ...)``: live instances at EVENING in ``city`` starting at
    those times (Dublin, 2026-01-15), in that order."""

    def make(city: str, *starts: str) -> list:
        instances = [
            make_instance(make_session(name=f"{city} {start}", city=city, start_time=time.fromisoformat(start)), ON)
            for start in starts
        ]
        update_active_sessions(EVENING - clock.lookahead())
        for instance in instances:
            instance.refresh_from_db()
            assert instance.is_active
        return instances

    return make


def nearby_names(html: str) -> list[str]:
    if 'id="live-nearby"' not in html:
        return []
    start = html.index('id="live-nearby"')
    return re.findall(r'<a href="/instances/\d+/">([^<]+)</a>', html[start : html.index("</ul>", start)])


MORE_LINK = 'href="/?country=IE&amp;city=Dublin">And more'


def test_the_nearby_list_is_the_soonest_few_with_a_link_for_more(client, live_instance, live_in, monkeypatch):
    live_in("Dublin", "20:30", "20:00", "21:15")
    live_in("Cork", "19:30")
    monkeypatch.setattr(views, "NEARBY_SHOWN", 2)
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    assert nearby_names(html) == ["Dublin 20:00", "Dublin 20:30"]
    assert MORE_LINK in html
    monkeypatch.setattr(views, "NEARBY_SHOWN", 3)
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    assert nearby_names(html) == ["Dublin 20:00", "Dublin 20:30", "Dublin 21:15"]
    assert MORE_LINK not in html


def test_a_big_city_is_read_from_the_live_instances_by_start(client, live_instance, live_in, monkeypatch):
    """A city of more sessions than are probed one by one (here: more than one)."""
    live_in("Dublin", "20:30", "20:00", "21:15")
    live_in("Cork", "19:30")
    monkeypatch.setattr(models, "CITY_SESSIONS_PROBED", 1)
    monkeypatch.setattr(views, "NEARBY_SHOWN", 2)
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    assert nearby_names(html) == ["Dublin 20:00", "Dublin 20:30"] and MORE_LINK in html
    # Only the first LIVE_SCANNED live instances by start are read: here Cork's two.
    live_in("Cork", "19:45")
    monkeypatch.setattr(models, "LIVE_SCANNED", 2)
    html = client.get(f"/instances/{live_instance.pk}/").content.decode()
    assert nearby_names(html) == [] and MORE_LINK in html  # there may be more: the link says so


@pytest.mark.parametrize("probed", [200, 1])
def test_the_instance_page_takes_the_same_queries_whatever_the_city(
    client, live_instance, live_in, monkeypatch, django_assert_num_queries, probed
):
    monkeypatch.setattr(models, "CITY_SESSIONS_PROBED", probed)
    url = f"/instances/{live_instance.pk}/"

    def queries() -> int:
        # 1 the instance and its session, 1 the answers, 1 who is here now;
        # 1 the city's session ids (up to CITY_SESSIONS_PROBED + 1), 1 their live instances.
        with django_assert_num_queries(5):
            return len(nearby_names(client.get(url).content.decode()))

    assert queries() == 0
    live_in("Dublin", "20:00")
    assert queries() == 1
    live_in("Dublin", "20:10", "20:20", "20:30", "20:40", "20:50")
    live_in("Cork", "20:00", "20:30")
    assert queries() == 6
