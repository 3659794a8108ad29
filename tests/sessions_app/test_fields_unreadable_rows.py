"""One bad row never breaks a page (issue 6, item 5).

A stored recurrence django-recurrence cannot parse (free text from the old system) or a
timezone that is not an IANA name, written around the models with SQL: every page, the
header, the API and the admin still answer 200; the bad session says "schedule
unreadable" / "timezone unreadable" (staff see why) and the admin can fix it.
"""

from __future__ import annotations

from datetime import date

import pytest
import recurrence
from django.db import connection

from people.models import Person
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session
from tests.site_helpers import EVENING, login_client, place

pytestmark = pytest.mark.django_db

BAD_RULE = "every second Tuesday, except in Lent"
WEEKLY_THURSDAY = "RRULE:FREQ=WEEKLY;BYDAY=TH"


def store_raw(session: Session, column: str, value: str) -> None:
    """Write ``value`` into ``column`` with SQL, as data from the old system would be."""
    table = connection.ops.quote_name(Session._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s", [value, session.pk]
        )


@pytest.fixture
def sites(live_instance, make_session, make_instance, make_attendance, member, staff_user):
    """A good live session, a live session whose rule is then broken in SQL, and the
    member placed at the bad session's live instance."""
    good = live_instance.session
    bad = make_session(
        name="Old System Session", recurrence=recurrence.deserialize(WEEKLY_THURSDAY), initiation_date=date(2026, 1, 1)
    )
    bad_instance = make_instance(bad, date(2026, 1, 15))
    update_active_sessions(EVENING - clock.lookahead(), full=True)
    bad_instance.refresh_from_db()
    assert bad_instance.is_active
    make_attendance(member, bad_instance, "yes")
    place(member, bad_instance)
    store_raw(bad, "recurrence", BAD_RULE)
    return {
        "good": good,
        "good_instance": live_instance,
        "bad": bad,
        "bad_instance": bad_instance,
        "member": member,
        "staff": staff_user,
    }


def pages(sites) -> list[str]:
    return [
        "/",
        f"/sessions/{sites['bad'].slug}/",
        f"/sessions/{sites['good'].slug}/",
        f"/instances/{sites['bad_instance'].pk}/",
        f"/instances/{sites['good_instance'].pk}/",
        f"/people/{sites['member'].pk}/",
        f"/api/session/{sites['bad'].pk}/active_instance",
        f"/api/session/{sites['good'].pk}/active_instance",
        f"/api/person/{sites['member'].pk}/active_session",
    ]


def expected_status(who: str, url: str) -> int:
    """200 for every page and endpoint, but where an anonymous visitor must log in: the
    person page redirects to the login (302), the person endpoint answers 401."""
    if who == "anonymous" and url.startswith("/people/"):
        return 302
    if who == "anonymous" and url.startswith("/api/person/"):
        return 401
    return 200


def test_the_bad_row_loads_as_unreadable_keeping_its_text(sites):
    from sessions_app.fields import UnreadableRecurrence

    bad = Session.objects.get(pk=sites["bad"].pk)
    assert isinstance(bad.recurrence, UnreadableRecurrence)
    assert bad.recurrence.text == BAD_RULE
    assert "Unparsable recurrence" in bad.recurrence_error
    assert not bad.recurrence.rrules
    # Every other row loads as before, in the same query.
    rules = {s.pk: s.recurrence for s in Session.objects.all()}
    assert rules[sites["good"].pk] is None
    assert len(rules) == 2


@pytest.mark.parametrize("who", ["anonymous", "member", "staff"])
def test_every_page_and_endpoint_answers_200_with_one_unreadable_rule(sites, client, who):
    if who != "anonymous":
        client = login_client(sites[who].user if who == "member" else sites[who])
    for url in pages(sites):
        response = client.get(url)
        assert response.status_code == expected_status(who, url), url


def test_pages_say_schedule_unreadable_and_staff_see_why(sites, client):
    for url in ("/", f"/sessions/{sites['bad'].slug}/"):
        anonymous = client.get(url).content.decode()
        assert "Schedule unreadable" in anonymous
        assert "Unparsable recurrence" not in anonymous
        assert "Old System Session" in anonymous
        staff = login_client(sites["staff"]).get(url).content.decode()
        assert "Schedule unreadable" in staff
        assert "Unparsable recurrence: malformed data" in staff
    good = client.get(f"/sessions/{sites['good'].slug}/").content.decode()
    assert "Schedule unreadable" not in good
    home = client.get("/").content.decode()
    assert home.count("Schedule unreadable") == 1
    # Both live sessions (the bad one too) are live: once in "Live now", once in the list.
    assert home.count("LIVE NOW") == 4


def test_header_and_api_of_someone_placed_at_the_bad_session(sites):
    member = login_client(sites["member"].user)
    html = member.get("/").content.decode()
    assert 'id="active-session-dot"' in html
    assert "You are at Old System Session" in html
    body = member.get(f"/api/person/{sites['member'].pk}/active_session").json()
    assert body["active_session"]["instance_id"] == sites["bad_instance"].pk
    assert member.get(f"/api/session/{sites['bad'].pk}/active_instance").json()["active_instance_ids"] == [
        sites["bad_instance"].pk
    ]


def test_the_sweep_reports_the_bad_session_and_keeps_the_rest(sites):
    Session.objects.filter(pk=sites["bad"].pk).update(auto_create_instances=True, auto_create_due_at=None)
    store_raw(sites["bad"], "recurrence", BAD_RULE)
    result = update_active_sessions(EVENING - clock.lookahead(), full=True)
    assert result["errors"] == [{"session_id": sites["bad"].pk, "error": "Unparsable recurrence: malformed data"}]
    assert Person.objects.get(pk=sites["member"].pk).at_active_session_instance_id == sites["bad_instance"].pk


def test_staff_can_re_evaluate_an_instance_of_the_bad_session(sites):
    response = login_client(sites["staff"]).post(
        f"/api/session_instance/{sites['bad_instance'].pk}/update_active_status"
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is True


def admin_form_data(response) -> dict:
    """The POST data of an admin change form as it was rendered (main form and inlines)."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = value if isinstance(value, (str, int, bool)) else str(value)
    return data


def test_admin_opens_the_bad_session_shows_the_text_and_saves_a_new_rule(sites):
    staff = sites["staff"]
    staff.is_superuser = True
    staff.save()
    admin = login_client(staff)
    changelist = admin.get("/admin/sessions_app/session/")
    assert changelist.status_code == 200
    assert "Old System Session" in changelist.content.decode()
    url = f"/admin/sessions_app/session/{sites['bad'].pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "The stored schedule cannot be read" in html
    assert BAD_RULE in html

    # Saving without touching the rule is refused with the reason, and keeps the text.
    data = admin_form_data(page)
    assert data["recurrence"] == BAD_RULE
    refused = admin.post(url, data)
    assert refused.status_code == 200
    assert "Unparsable recurrence: malformed data" in str(refused.context["adminform"].form.errors["recurrence"])
    assert Session.objects.filter(pk=sites["bad"].pk).values_list("recurrence", flat=True).get().text == BAD_RULE

    data["recurrence"] = WEEKLY_THURSDAY
    saved = admin.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    fixed = Session.objects.get(pk=sites["bad"].pk)
    assert fixed.recurrence_error == ""
    assert str(fixed.recurrence) == WEEKLY_THURSDAY


def test_an_invalid_timezone_never_breaks_a_page(sites, client):
    store_raw(sites["bad"], "recurrence", WEEKLY_THURSDAY)
    store_raw(sites["bad"], "timezone", "Mars/Olympus_Mons")
    staff = sites["staff"]
    staff.is_superuser = True
    staff.save()
    for who, viewer in (
        (client, "anonymous"),
        (login_client(sites["member"].user), "member"),
        (login_client(staff), "staff"),
    ):
        for url in pages(sites):
            response = who.get(url)
            assert response.status_code == expected_status(viewer, url), (viewer, url, response.status_code)
    for url in ("/", f"/sessions/{sites['bad'].slug}/"):
        assert "Timezone unreadable" in client.get(url).content.decode()
        assert "not an IANA timezone name" in login_client(staff).get(url).content.decode()
    admin = login_client(staff)
    assert admin.get("/admin/sessions_app/session/").status_code == 200
    assert admin.get(f"/admin/sessions_app/session/{sites['bad'].pk}/change/").status_code == 200
    assert admin.get(f"/admin/sessions_app/sessioninstance/{sites['bad_instance'].pk}/change/").status_code == 200
    assert admin.get("/admin/sessions_app/sessioninstance/").status_code == 200
