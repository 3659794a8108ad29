"""Every URL pattern, walked with wrong methods, odd ids, bad bodies and each kind of
viewer: no 500 anywhere, JSON under /api/, 405 for a method a URL does not take, and no
database change from any of these requests."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from people.models import Attendance, Person
from sessions_app.models import Session, SessionInstance, SweepRun
from tests.site_helpers import login_client

pytestmark = pytest.mark.django_db

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def site_patterns(resolver=None, prefix="") -> list[str]:
    """Every route of the site (the admin's own routes aside: Django's admin is tested by Django)."""
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                continue
            routes += site_patterns(entry, route)
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


def fill(route: str, values: dict) -> str:
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "x1", route).replace("^", "").replace("$", "")  # regex routes (allauth)
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(values[m.group(1) or "str"]), route)


def snapshot() -> tuple:
    return tuple(model.objects.count() for model in (Session, SessionInstance, Person, Attendance, SweepRun)) + (
        tuple(Attendance.objects.order_by("pk").values_list("status", "left_at")),
        tuple(Person.objects.order_by("pk").values_list("at_active_session_instance_id", flat=True)),
        tuple(SessionInstance.objects.order_by("pk").values_list("is_active", flat=True)),
    )


@pytest.fixture
def viewers(live_instance, member, staff_user):
    # Staff have a person too: pages that make one on first use (profile, my sessions)
    # would otherwise count as a change.
    Person.objects.create(user=staff_user, first_name="Staff")
    return {
        "anonymous": Client(),
        "member": login_client(member.user, enforce_csrf_checks=True),
        "staff": login_client(staff_user, enforce_csrf_checks=True),
    }


def urls(live_instance, member) -> list[str]:
    token = member.calendar_token or member.renew_calendar_token()
    good = {"id": live_instance.pk, "slug": live_instance.session.slug, "str": "2026-01-15", "calendar_token": token}
    odd = [
        {"id": 0, "slug": "no-such-session", "str": "not-a-date", "calendar_token": "x" * 20},
        {"id": 999999999999999999, "slug": "x" * 200, "str": "2026-02-30", "calendar_token": "-" * 64},
        {"id": 1, "slug": live_instance.session.slug, "str": "0001-01-01", "calendar_token": token[::-1]},
        {"id": 2, "slug": live_instance.session.slug, "str": "9999-12-31", "calendar_token": "A" * 43},
    ]
    routes = site_patterns()
    assert "api/live" in routes and "instances/<id:pk>/leave/" in routes
    return sorted({fill(route, values) for route in routes for values in [good, *odd]})


def check(response, url: str, method: str) -> None:
    assert response.status_code < 500, (method, url, response.status_code)
    if url.startswith("/api/") and response.status_code >= 400 and method != "HEAD":
        assert response["Content-Type"].startswith("application/json"), (method, url)
        assert set(response.json()) == {"error"}


def refused(response) -> bool:
    """A 4xx, or the redirect to the login page of a page that needs one."""
    to_login = response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    return 400 <= response.status_code < 500 or to_login


@pytest.mark.parametrize("viewer", ["anonymous", "member", "staff"])
def test_every_url_and_method_without_a_csrf_token_changes_nothing(viewers, live_instance, member, viewer):
    client = viewers[viewer]
    before = snapshot()
    for url in urls(live_instance, member):
        for method in METHODS:
            response = client.generic(method, url)
            check(response, url, method)
            if method in {"PUT", "PATCH", "DELETE"}:
                assert refused(response) and response.status_code != 400, (method, url, response.status_code)
    assert snapshot() == before


BAD_BODIES = {
    "multipart without boundary": ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1"),
    "too many fields": ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(2000)).encode()),
    "oversized": ("application/x-www-form-urlencoded", b"status=" + b"y" * 3_000_000),
    "not json": ("application/json", b"{nope"),
    "bad encoding": ("application/x-www-form-urlencoded; charset=nonsense", b"status=yes"),
}


@pytest.mark.parametrize("body", sorted(BAD_BODIES))
@pytest.mark.parametrize("viewer", ["anonymous", "member", "staff"])
def test_bad_bodies_are_never_a_500_and_change_nothing(viewers, live_instance, member, viewer, body, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    client = viewers[viewer]
    content_type, data = BAD_BODIES[body]
    before = snapshot()
    for url in urls(live_instance, member):
        response = client.generic("POST", url, data=data, content_type=content_type)
        check(response, url, "POST")
    assert snapshot() == before


@pytest.mark.parametrize("body", ["multipart without boundary", "too many fields", "oversized"])
@pytest.mark.parametrize("viewer", ["member", "staff"])
def test_unreadable_bodies_with_a_valid_csrf_token_are_4xx(viewers, live_instance, member, viewer, body, settings):
    """Past the CSRF cookie check, the body itself is read (by the CSRF check or the view)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    client = viewers[viewer]
    client.get("/")
    token = client.cookies["csrftoken"].value
    content_type, data = BAD_BODIES[body]
    before = snapshot()
    for url in urls(live_instance, member):
        response = client.generic("POST", url, data=data, content_type=content_type, HTTP_X_CSRFTOKEN=token)
        check(response, url, "POST")
        assert response.status_code >= 400 or response.status_code in {301, 302}, (url, response.status_code)
    assert snapshot() == before


def test_update_active_status_with_a_body_without_boundary_is_json_400(live_instance, staff_user):
    client = login_client(staff_user, enforce_csrf_checks=True)
    client.get("/")  # the CSRF cookie, so that the check goes on to read the body
    assert "csrftoken" in client.cookies
    response = client.generic(
        "POST",
        f"/api/session_instance/{live_instance.pk}/update_active_status",
        data=b"--x\r\n\r\n",
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "error" in response.json()


def test_a_disallowed_host_under_api_gets_json(client, live_instance):
    response = client.get("/api/live", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json() == {"error": "Bad request: this host is not served here."}
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "query",
    [
        "page=" + "9" * 5000,
        "page=-1",
        "lat=nan&lon=inf",
        "lat=1e400&lon=0",
        "q=" + "x" * 5000,
        "country=%00",
        "q=a%00b",
        "country=IE&city=a%00",
        "city=%F0%9F%8E%BB",
        "sessions=1,2",
    ],
)
def test_odd_query_strings_on_the_home_page(client, live_instance, query):
    assert client.get(f"/?{query}").status_code == 200


def test_pages_refuse_methods_they_do_not_take(client, live_instance):
    for url in ["/", f"/instances/{live_instance.pk}/", f"/sessions/{live_instance.session.slug}/", "/sessions/"]:
        for method in ["POST", "PUT", "DELETE"]:
            assert client.generic(method, url).status_code in {403, 405}, (method, url)
    assert Client().post("/").status_code == 405  # CSRF not enforced here: the method is the answer
    assert client.get(f"/instances/{live_instance.pk}/answer/").status_code == 405
    assert User.objects.count() == 0


def test_read_only_pages_answer_head_and_refuse_post(live_instance, member):
    """HEAD is GET without the body (monitors and link checkers use it); a page that only
    shows something answers a POST with 405, for a logged-in member too (no CSRF check
    stands in front of the method rule for them in the test client)."""
    token = member.calendar_token or member.renew_calendar_token()
    client = login_client(member.user)
    pages = [
        "/",
        f"/sessions/{live_instance.session.slug}/",
        f"/instances/{live_instance.pk}/",
        f"/people/{member.pk}/",
        "/accounts/my-sessions/",
        f"/sessions/{live_instance.session.slug}/calendar.ics",
        f"/calendar/{token}.ics",
    ]
    for url in pages:
        get = client.get(url)
        assert get.status_code == 200, url
        head = client.head(url)
        assert (head.status_code, head.content) == (200, b""), url
        assert head["Content-Type"] == get["Content-Type"], url
        assert client.post(url).status_code == 405, url
