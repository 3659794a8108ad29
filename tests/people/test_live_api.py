"""GET /api/live (SPEC 7): live instances with people the viewer may see, an ETag and
304, one request whatever the page shows, constant queries."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

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
