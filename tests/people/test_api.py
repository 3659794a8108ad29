"""GET /api/live (SPEC 7): live instances with people the viewer may see, an ETag and
304, one request whatever the page shows, constant queries."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from people import api
from people.api import MAX_LIVE_SESSION_IDS
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from tests.site_helpers import EVENING, login_client, place

pytestmark = pytest.mark.django_db


def test_live_lists_live_instances_of_the_listed_sessions(client, live_instance, make_session, make_instance):
    quiet = make_session()
    make_instance(quiet, date(2026, 1, 20))
    body = client.get("/api/live").json()
    assert body["live"] == [{"session_id": live_instance.session_id, "instance_id": live_instance.pk, "people_here": 0}]
    assert "evaluated_at" in body and "me" not in body
    assert client.get(f"/api/live?sessions={quiet.pk}").json()["live"] == []
    assert (
        client.get(f"/api/live?sessions={quiet.pk},{live_instance.session_id}").json()["live"][0]["instance_id"]
        == live_instance.pk
    )
    assert client.get("/api/live?sessions=").json()["live"] == []


def test_etag_and_304_until_something_changes(client, live_instance, make_person, make_attendance):
    first = client.get("/api/live")
    etag = first["ETag"]
    assert etag and "private" in first["Cache-Control"]
    again = client.get("/api/live", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    person = make_person()
    make_attendance(person, live_instance, "yes")
    place(person, live_instance)
    changed = client.get("/api/live", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["live"][0]["people_here"] == 1
    assert changed["ETag"] != etag


@pytest.mark.parametrize(
    "query",
    [
        "sessions=a",
        "sessions=1,-2",
        "sessions=" + "9" * 19,
        "sessions=" + ",".join(str(i) for i in range(MAX_LIVE_SESSION_IDS + 1)),
    ],
)
def test_bad_session_lists_are_json_400(client, query):
    response = client.get(f"/api/live?{query}")
    assert response.status_code == 400 and set(response.json()) == {"error"}


def test_me_is_where_the_viewer_is(live_instance, member):
    client = login_client(member.user)
    assert client.get("/api/live").json()["me"] == {"person_id": member.pk, "active_session": None}
    place(member, live_instance)
    me = client.get("/api/live").json()["me"]["active_session"]
    assert me["instance_id"] == live_instance.pk
    assert me["when"] == "Thursday 15 January 2026, 21:00 GMT – 23:30 GMT"


@pytest.mark.parametrize("logged_in", [False, True])
def test_queries_do_not_grow_with_sessions(
    at_evening, make_session, make_instance, make_person, member, django_assert_num_queries, logged_in
):
    client = login_client(member.user) if logged_in else Client()

    def measure(count: int) -> int:
        for _ in range(count):
            instance = make_instance(make_session(), date(2026, 1, 15))
            person = make_person()
            place(person, instance)
        update_active_sessions(EVENING - clock.lookahead(), full=True)
        # 1 the live instances with their people counts, 1 the last sweep;
        # logged in: + 1 the user, 1 the viewer's person (the session is in the cache).
        with django_assert_num_queries(4 if logged_in else 2):
            body = client.get("/api/live").json()
        return len(body["live"])

    assert measure(2) == 2
    assert measure(10) == 12


# --- the list of every live instance, page by page -----------------------------------


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 2 live instances, so that a few sessions make several pages."""
    monkeypatch.setattr(api, "LIVE_PAGE_SIZE", 2)


def live_sessions(make_session, make_instance, count: int) -> list:
    """``count`` live instances at EVENING, in the order of their session ids."""
    instances = [make_instance(make_session(), date(2026, 1, 15)) for _ in range(count)]
    update_active_sessions(EVENING - clock.lookahead(), full=True)
    return sorted(instances, key=lambda instance: instance.session_id)


def instance_ids(body: dict) -> list[int]:
    return [row["instance_id"] for row in body["live"]]


def test_every_live_instance_page_by_page(client, at_evening, small_pages, make_session, make_instance):
    live = live_sessions(make_session, make_instance, 5)
    first = client.get("/api/live").json()
    assert instance_ids(first) == [i.pk for i in live[:2]]
    assert first["next"] == f"/api/live?after={live[1].session_id}"
    second = client.get(first["next"]).json()
    assert instance_ids(second) == [i.pk for i in live[2:4]]
    assert second["next"] == f"/api/live?after={live[3].session_id}"
    last = client.get(second["next"]).json()
    assert instance_ids(last) == [live[4].pk] and last["next"] is None
    assert last["live"][0] == {"session_id": live[4].session_id, "instance_id": live[4].pk, "people_here": 0}
    assert set(first) == {"evaluated_at", "live", "next"}
    # Past the last session: an empty last page. A full last page says so too.
    assert client.get(f"/api/live?after={live[4].session_id}").json()["live"] == []
    assert client.get(f"/api/live?after={live[2].session_id}").json()["next"] is None
    # The list of a page's sessions is unchanged: no pages.
    assert set(client.get(f"/api/live?sessions={live[0].session_id}").json()) == {"evaluated_at", "live"}


def test_each_page_has_its_own_etag(client, at_evening, small_pages, make_session, make_instance, make_person):
    live = live_sessions(make_session, make_instance, 4)
    first = client.get("/api/live")
    second_url = first.json()["next"]
    second = client.get(second_url)
    assert first["ETag"] != second["ETag"]
    assert client.get("/api/live", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    again = client.get(second_url, HTTP_IF_NONE_MATCH=second["ETag"])
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == second["ETag"]
    assert client.get(second_url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    # Someone arrives at an instance of the second page: only that page changes.
    place(make_person(), live[3])
    assert client.get("/api/live", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    changed = client.get(second_url, HTTP_IF_NONE_MATCH=second["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != second["ETag"]
    assert changed.json()["live"][1]["people_here"] == 1


@pytest.mark.parametrize(
    "query",
    ["after=abc", "after=-1", "after=1.5", "after=", "after=%201", "after=" + "9" * 19, "after=1&sessions=1"],
)
def test_bad_after_values_are_json_400(client, query):
    response = client.get(f"/api/live?{query}")
    assert response.status_code == 400 and set(response.json()) == {"error"}


@pytest.mark.parametrize("logged_in", [False, True])
def test_first_next_and_last_pages_take_the_same_queries(
    at_evening, small_pages, make_session, make_instance, member, django_assert_num_queries, logged_in
):
    client = login_client(member.user) if logged_in else Client()
    live_sessions(make_session, make_instance, 5)
    url, pages = "/api/live", 0
    while url:
        # 1 the page of live instances with their people counts, 1 the last sweep;
        # logged in: + 1 the user, 1 the viewer's person (the session is in the cache).
        with django_assert_num_queries(4 if logged_in else 2):
            url = client.get(url).json()["next"]
        pages += 1
    assert pages == 3


@pytest.mark.parametrize("viewer, here", [("anonymous", 1), ("member", 1), ("shy", 2), ("staff", 2)])
def test_pages_count_only_the_people_the_viewer_may_see(
    at_evening, small_pages, make_session, make_instance, make_person, member, staff_user, viewer, here
):
    from django.contrib.auth.models import User

    live = live_sessions(make_session, make_instance, 3)
    shy = make_person(user=User.objects.create_user("shy"), share_location=False)
    for person in (shy, make_person()):
        place(person, live[2])
    users = {"member": member.user, "shy": shy.user, "staff": staff_user}
    client = login_client(users[viewer]) if viewer in users else Client()
    last = client.get(client.get("/api/live").json()["next"]).json()
    assert last["live"] == [{"session_id": live[2].session_id, "instance_id": live[2].pk, "people_here": here}]
