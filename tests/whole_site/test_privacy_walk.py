"""SPEC 3.8, walked over every page and endpoint that shows people, as each kind of
viewer: anonymous visitors see counts only; members see names; a person who does not
share is never shown at a live instance except to themselves and staff."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.test import Client

from people.models import Attendance, Person
from tests.site_helpers import login_client, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(live_instance, make_person, make_instance, make_attendance):
    """At the live Mueller Monday: Open Player (shares) and Shy Player (does not), both
    going and placed there; on a later, not-live instance Shy Player is going too."""
    shy_user = User.objects.create_user("shy", password="pw")
    shy = make_person(user=shy_user, first_name="Shy", last_name="Player", share_location=False)
    open_ = make_person(first_name="Open", last_name="Player")
    for person in (shy, open_):
        make_attendance(person, live_instance, "yes")
        place(person, live_instance)
    later = make_instance(live_instance.session, date(2026, 1, 22))
    make_attendance(shy, later, "yes")
    viewers = {
        "anonymous": Client(),
        "member": login_client(User.objects.create_user("ciaran")),
        "self": login_client(shy_user),
        "staff": login_client(User.objects.create_user("boss", is_staff=True)),
    }
    return {"live": live_instance, "later": later, "shy": shy, "open": open_, "viewers": viewers}


def pages(scene) -> list[str]:
    live, shy = scene["live"], scene["shy"]
    return [
        "/",
        f"/?q={live.session.name}",
        "/?country=IE",
        f"/sessions/{live.session.slug}/",
        f"/instances/{live.pk}/",
        f"/people/{shy.pk}/",
        f"/people/{scene['open'].pk}/",
    ]


def text_of(client, url) -> str:
    response = client.get(url, follow=True)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.mark.parametrize("viewer", ["anonymous", "member", "self", "staff"])
def test_every_page_shows_only_whom_the_viewer_may_see(scene, viewer):
    client = scene["viewers"][viewer]
    sees_open = viewer != "anonymous"
    sees_shy_here = viewer in {"self", "staff"}
    for url in pages(scene):
        html = text_of(client, url)
        if viewer == "anonymous":
            assert "Player" not in html, url  # no names at all (the person pages ask to log in)
        if not sees_shy_here and not url.startswith(f"/people/{scene['shy'].pk}/"):
            assert "Shy Player" not in html, url
    instance_page = text_of(client, f"/instances/{scene['live'].pk}/")
    here_count = 2 if sees_shy_here else 1
    assert f'data-instance-id="{scene["live"].pk}">{here_count}</span>' in instance_page
    assert f"Going ({here_count})" in instance_page
    assert ("Open Player" in instance_page) == sees_open
    assert ("Shy Player" in instance_page) == sees_shy_here
    shy_page = text_of(client, f"/people/{scene['shy'].pk}/")
    assert ("At <a" in shy_page) == sees_shy_here
    if viewer == "member":
        assert "does not share where they are" in shy_page


@pytest.mark.parametrize(
    "viewer, here, shy_location",
    [
        ("anonymous", 1, 401),
        ("member", 1, None),
        ("self", 2, "yes"),
        ("staff", 2, "yes"),
    ],
)
def test_every_endpoint_counts_and_locates_by_the_same_rule(scene, viewer, here, shy_location):
    client = scene["viewers"][viewer]
    live = client.get("/api/live").json()["live"]
    assert live == [{"session_id": scene["live"].session_id, "instance_id": scene["live"].pk, "people_here": here}]
    response = client.get(f"/api/person/{scene['shy'].pk}/active_session")
    if shy_location == 401:
        assert response.status_code == 401 and set(response.json()) == {"error"}
    elif shy_location is None:
        assert response.json()["active_session"] is None
    else:
        assert response.json()["active_session"]["instance_id"] == scene["live"].pk


def test_a_person_who_does_not_share_is_listed_on_instances_that_are_not_live(scene):
    html = text_of(scene["viewers"]["member"], f"/instances/{scene['later'].pk}/")
    assert "Shy Player" in html and "Going (1)" in html
    assert "Shy Player" not in text_of(scene["viewers"]["anonymous"], f"/instances/{scene['later'].pk}/")


def test_the_querysets_are_the_rule(scene):
    live = scene["live"]
    users = {name: User.objects.filter(username=name).first() for name in ("ciaran", "shy", "boss")}
    from django.contrib.auth.models import AnonymousUser

    assert set(Person.objects.here_now(live.pk, AnonymousUser())) == {scene["open"]}
    assert set(Person.objects.here_now(live.pk, users["ciaran"])) == {scene["open"]}
    assert set(Person.objects.here_now(live.pk, users["shy"])) == {scene["open"], scene["shy"]}
    assert set(Person.objects.here_now(live.pk, users["boss"])) == {scene["open"], scene["shy"]}
    at_live = Attendance.objects.filter(session_instance=live)
    assert at_live.visible_to(users["ciaran"]).count() == 1
    assert at_live.visible_to(users["boss"]).count() == 2
    # Not live: every answer counts.
    assert Attendance.objects.filter(session_instance=scene["later"]).visible_to(users["ciaran"]).count() == 1
