"""One session whose stored recurrence cannot be parsed (data from the old system) never
breaks a page (issue 6, points 5-6; SPEC 4): every other page, the header of anyone
placed at one of its instances, and the API answer 200; the session itself shows with
"schedule unreadable", and the admin can open it to fix it."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from people.models import Person
from sessions_app.models import Session
from tests.site_helpers import place

pytestmark = pytest.mark.django_db

GARBLED = "RRULE:FREQ=FORTNIGHTLY;BYDAY=TH"  # django-recurrence cannot deserialise it


def client_for(user=None) -> Client:
    client = Client(raise_request_exception=False)  # a crash is a 500 answer, not a test error
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def bad_evening(live_instance, make_session, make_instance, member):
    """The live Mueller Monday, and a live session whose rules became unreadable, where
    the member is placed."""
    bad = make_session(name="Old data", recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH", initiation_date=date(2026, 1, 1))
    bad_instance = make_instance(bad, date(2026, 1, 15))
    Session.objects.filter(pk=bad.pk).update(recurrence=GARBLED)
    place(member, bad_instance)
    # And one whose zone is not an IANA name any more.
    lost = make_session(name="Lost zone")
    lost_instance = make_instance(lost, date(2026, 1, 15))
    Session.objects.filter(pk=lost.pk).update(timezone="Mars/Olympus")
    return {
        "good": live_instance,
        "bad": bad,
        "bad_instance": bad_instance,
        "member": member,
        "lost": lost,
        "lost_instance": lost_instance,
    }


def test_pages_and_api_answer_200_with_one_unreadable_session(bad_evening, staff_user):
    good, member = bad_evening["good"], bad_evening["member"]
    everyone_else = [
        "/",
        f"/sessions/{good.session.slug}/",
        f"/instances/{good.pk}/",
        f"/api/session/{good.session_id}/active_instance",
    ]
    for client in (client_for(), client_for(member.user), client_for(staff_user)):
        for url in everyone_else:
            assert client.get(url).status_code == 200, url
    for url in (f"/people/{member.pk}/", f"/api/person/{member.pk}/active_session", "/"):
        assert client_for(member.user).get(url).status_code == 200, f"{url} for someone placed at the bad session"


def test_the_unreadable_session_itself_shows_and_the_admin_opens_it(bad_evening, staff_user):
    bad, bad_instance = bad_evening["bad"], bad_evening["bad_instance"]
    lost, lost_instance = bad_evening["lost"], bad_evening["lost_instance"]
    for url in (
        f"/sessions/{bad.slug}/",
        f"/instances/{bad_instance.pk}/",
        f"/api/session/{bad.pk}/active_instance",
        f"/sessions/{lost.slug}/",
        f"/instances/{lost_instance.pk}/",
        f"/api/session/{lost.pk}/active_instance",
    ):
        assert client_for().get(url).status_code == 200, url
    page = client_for().get(f"/sessions/{bad.slug}/")
    assert "schedule unreadable" in page.content.decode().lower()
    staff_user.is_superuser = True
    staff_user.save()
    admin = client_for(staff_user)
    assert admin.get(f"/admin/sessions_app/session/{bad.pk}/change/").status_code == 200
    assert admin.get(f"/admin/sessions_app/session/{lost.pk}/change/").status_code == 200
    assert admin.get("/admin/sessions_app/session/").status_code == 200
    assert Person.objects.get(pk=bad_evening["member"].pk).at_active_session_instance_id == bad_instance.pk
