"""The JSON API of SPEC section 7: shapes, status codes, privacy, CSRF, the cron secret."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.contrib.auth.models import User
from django.test import Client

from people.models import Person
from sessions_app import api
from sessions_app.active_sessions import SweepFailed
from sessions_app.models import SessionInstance, SweepRun
from tests.site_helpers import EVENING, login_client, place

pytestmark = pytest.mark.django_db

PERSON_KEYS = {
    "session_id",
    "session_name",
    "instance_id",
    "date",
    "start_time",
    "end_time",
    "venue_name",
    "location_override",
    "city",
    "country",
    "url",
}


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"} and body["error"]
    return body


# GET /api/session/<id>/active_instance


def test_session_active_instance_lists_the_active_instance(client, live_instance):
    response = client.get(f"/api/session/{live_instance.session_id}/active_instance")
    assert response.status_code == 200
    assert response.json() == {"session_id": live_instance.session_id, "active_instance_ids": [live_instance.pk]}


def test_session_active_instance_is_empty_when_nothing_is_live(client, make_session, make_instance):
    session = make_session()
    make_instance(session, date(2026, 1, 15))
    response = client.get(f"/api/session/{session.pk}/active_instance")
    assert response.json() == {"session_id": session.pk, "active_instance_ids": []}


@pytest.mark.parametrize(
    "url",
    [
        "/api/session/999999/active_instance",
        "/api/session/99999999999999999999999/active_instance",  # would overflow a bigint
        "/api/session/abc/active_instance",
        "/api/no/such/endpoint",
    ],
)
def test_unknown_ids_and_paths_are_json_404(client, url):
    assert_json_error(client.get(url), 404)


def test_wrong_method_is_json_405(client, live_instance):
    response = client.post(f"/api/session/{live_instance.session_id}/active_instance")
    assert_json_error(response, 405)
    assert response["Allow"] == "GET, HEAD"


# GET /api/person/<id>/active_session


def test_person_active_session_requires_login(client, member, live_instance):
    place(member, live_instance)
    assert_json_error(client.get(f"/api/person/{member.pk}/active_session"), 401)


def test_person_active_session_shape_and_url(member, live_instance):
    place(member, live_instance)
    client = login_client(member.user)
    response = client.get(f"/api/person/{member.pk}/active_session")
    assert response.status_code == 200
    body = response.json()
    assert body["person_id"] == member.pk
    assert set(body["active_session"]) == PERSON_KEYS
    assert body["active_session"] == {
        "session_id": live_instance.session_id,
        "session_name": "Mueller Monday",
        "instance_id": live_instance.pk,
        "date": "2026-01-15",
        "start_time": "21:00",
        "end_time": "23:30",
        "venue_name": "Mueller's",
        "location_override": None,
        "city": "Dublin",
        "country": "IE",
        "url": f"/instances/{live_instance.pk}/",
    }
    assert client.get(body["active_session"]["url"]).status_code == 200


def test_person_nowhere_is_null(member):
    response = login_client(member.user).get(f"/api/person/{member.pk}/active_session")
    assert response.json() == {"person_id": member.pk, "active_session": None}


def test_person_at_inactive_instance_is_null(member, make_session, make_instance):
    """A stale pointer at an instance that is not active is never reported as live."""
    place(member, make_instance(make_session(), date(2026, 1, 15)))
    response = login_client(member.user).get(f"/api/person/{member.pk}/active_session")
    assert response.json()["active_session"] is None


@pytest.mark.parametrize(
    "share_location, viewer, visible",
    [
        (True, "other", True),
        (False, "other", False),
        (False, "self", True),
        (False, "staff", True),
    ],
)
def test_share_location_hides_from_others_only(member, live_instance, staff_user, share_location, viewer, visible):
    Person.objects.filter(pk=member.pk).update(share_location=share_location)
    place(member, live_instance)
    users = {"other": User.objects.create_user("ciaran"), "self": member.user, "staff": staff_user}
    response = login_client(users[viewer]).get(f"/api/person/{member.pk}/active_session")
    assert response.status_code == 200
    location = response.json()["active_session"]
    assert (location is not None) == visible
    if visible:
        assert location["instance_id"] == live_instance.pk


def test_unknown_person_is_404(member):
    assert_json_error(login_client(member.user).get("/api/person/987654/active_session"), 404)


# POST /api/session_instance/<id>/update_active_status


@pytest.fixture
def due_instance(at_evening, make_session, make_instance) -> SessionInstance:
    """Open at EVENING but not yet activated (no sweep, no hook in this test transaction)."""
    instance = make_instance(make_session(name="Due"), date(2026, 1, 15))
    instance.refresh_from_db()
    assert not instance.is_active
    return instance


def csrf_token_for(client: Client) -> str:
    client.get("/")  # a page with a form sets the CSRF cookie
    return client.cookies["csrftoken"].value


def test_update_active_status_activates_and_records_an_admin_run(staff_user, due_instance):
    client = login_client(staff_user, enforce_csrf_checks=True)
    token = csrf_token_for(client)
    url = f"/api/session_instance/{due_instance.pk}/update_active_status"
    response = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json() == {"instance_id": due_instance.pk, "is_active": True, "changed": True}
    due_instance.refresh_from_db()
    assert due_instance.is_active
    assert SweepRun.objects.get().trigger == "admin"
    again = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert again.json() == {"instance_id": due_instance.pk, "is_active": True, "changed": False}


def test_update_active_status_deactivates_a_cancelled_instance(staff_user, live_instance):
    SessionInstance.objects.filter(pk=live_instance.pk).update(is_cancelled=True)
    response = login_client(staff_user).post(f"/api/session_instance/{live_instance.pk}/update_active_status")
    assert response.json() == {"instance_id": live_instance.pk, "is_active": False, "changed": True}


def test_update_active_status_enforces_csrf(staff_user, due_instance):
    client = login_client(staff_user, enforce_csrf_checks=True)
    response = client.post(f"/api/session_instance/{due_instance.pk}/update_active_status")
    assert_json_error(response, 403)
    due_instance.refresh_from_db()
    assert not due_instance.is_active
    assert not SweepRun.objects.exists()


def test_update_active_status_is_staff_only(member, due_instance, client):
    url = f"/api/session_instance/{due_instance.pk}/update_active_status"
    assert_json_error(client.post(url), 401)
    assert_json_error(login_client(member.user).post(url), 403)
    due_instance.refresh_from_db()
    assert not due_instance.is_active


def test_update_active_status_unknown_instance_and_method(staff_user):
    client = login_client(staff_user)
    assert_json_error(client.post("/api/session_instance/424242/update_active_status"), 404)
    assert_json_error(client.get("/api/session_instance/424242/update_active_status"), 405)


def test_update_active_status_reports_a_failed_evaluation(staff_user, due_instance, monkeypatch):
    def fail(**kwargs):
        raise SweepFailed("Database error: connection refused")

    monkeypatch.setattr(api, "reevaluate", fail)
    response = login_client(staff_user).post(f"/api/session_instance/{due_instance.pk}/update_active_status")
    assert assert_json_error(response, 503)["error"] == "Database error: connection refused"


# POST /api/cron/check_active_sessions

CRON_URL = "/api/cron/check_active_sessions"


@pytest.fixture
def cron_secret(settings):
    settings.CRON_SECRET = "s3cret-token"
    return settings.CRON_SECRET


def test_cron_runs_the_sweep_with_the_right_secret(client, cron_secret, due_instance):
    response = client.post(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}")
    assert response.status_code == 200
    body = response.json()
    assert {"evaluated_at", "activated", "deactivated", "auto_created", "people_moved", "errors"} <= set(body)
    assert [a["instance_id"] for a in body["activated"]] == [due_instance.pk]
    assert body["evaluated_at"] == EVENING.isoformat()
    run = SweepRun.objects.get()
    assert (run.trigger, run.activated_count, run.status) == ("http", 1, "ok")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong",
        "Bearer ",
        "Basic s3cret-token",
        "s3cret-token",
        "Bearer s3cret-token-and-more",
        "Bearer s3cret-tokén",
    ],
)
def test_cron_refuses_a_missing_or_wrong_secret(client, cron_secret, due_instance, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.post(CRON_URL, **extra)
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"
    assert not SweepRun.objects.exists()


@pytest.mark.parametrize("unset", ["", None])
def test_cron_is_404_when_no_secret_is_configured(client, settings, unset):
    if unset is None:
        del settings.CRON_SECRET
    else:
        settings.CRON_SECRET = unset
    assert_json_error(client.post(CRON_URL, HTTP_AUTHORIZATION="Bearer "), 404)
    assert_json_error(client.post(CRON_URL, HTTP_AUTHORIZATION="Bearer anything"), 404)
    assert not SweepRun.objects.exists()


def test_cron_secret_is_read_on_each_request(client, settings):
    settings.CRON_SECRET = "first"
    assert client.post(CRON_URL, HTTP_AUTHORIZATION="Bearer first").status_code == 200
    settings.CRON_SECRET = "second"
    assert client.post(CRON_URL, HTTP_AUTHORIZATION="Bearer first").status_code == 401
    assert client.post(CRON_URL, HTTP_AUTHORIZATION="Bearer second").status_code == 200


def test_cron_is_csrf_exempt_and_post_only(cron_secret):
    client = Client(enforce_csrf_checks=True)
    assert client.post(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}").status_code == 200
    assert_json_error(client.get(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}"), 405)


def test_cron_skipped_sweep_is_200(client, cron_secret, monkeypatch):
    skipped = {
        "evaluated_at": EVENING.isoformat(),
        "skipped": "another sweep is running",
        "activated": [],
        "deactivated": [],
        "auto_created": [],
        "people_moved": [],
        "errors": [],
    }
    monkeypatch.setattr(api, "update_active_sessions", lambda **kwargs: skipped)
    response = client.post(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}")
    assert (response.status_code, response.json()) == (200, skipped)


def test_cron_failed_sweep_is_503(client, cron_secret, monkeypatch):
    def fail(**kwargs):
        raise SweepFailed("Database error: could not connect")

    monkeypatch.setattr(api, "update_active_sessions", fail)
    response = client.post(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}")
    assert assert_json_error(response, 503)["error"] == "Database error: could not connect"


def test_unexpected_error_is_json_500_not_html(client, cron_secret, monkeypatch, caplog):
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "update_active_sessions", crash)
    response = client.post(CRON_URL, HTTP_AUTHORIZATION=f"Bearer {cron_secret}")
    assert assert_json_error(response, 500)["error"] == "Internal server error."
    assert "boom" in caplog.text


def test_handler500_answers_json_under_api_only(rf):
    assert_json_error(api.server_error(rf.get("/api/anything")), 500)
    page = api.server_error(rf.get("/sessions/x/"))
    assert page.status_code == 500 and b"Something went wrong" in page.content
