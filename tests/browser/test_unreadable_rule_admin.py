"""The admin can open a session whose stored rule cannot be parsed and replace it in the
browser: the notice shows the stored text, django-recurrence's editor still draws."""

from datetime import time

import pytest
from django.contrib.auth.models import User
from django.db import connection

from sessions_app.models import Session

pytestmark = pytest.mark.django_db(transaction=True)

BAD_RULE = "every second Tuesday, except in Lent"


def test_admin_shows_the_unreadable_rule_and_saves_a_new_one(live_server, page):
    session = Session.objects.create(
        name="Old System Session",
        slug="old-system",
        venue_name="Hall",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        start_time=time(21, 0),
        end_time=time(23, 0),
    )
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Session._meta.db_table} SET recurrence = %s WHERE id = %s", [BAD_RULE, session.pk])
    User.objects.create_superuser("boss", "boss@example.com", "correct horse battery")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/sessions_app/session/{session.pk}/change/")
    notice = page.locator(".recurrence-unreadable")
    assert notice.is_visible()
    assert BAD_RULE in notice.inner_text()
    page.wait_for_selector("div.recurrence-widget")  # the editor drew over the stored text
    assert errors == []

    # Replace the rule (as the editor would write it) and save.
    page.evaluate("document.getElementById('id_recurrence').value = 'RRULE:FREQ=WEEKLY;BYDAY=TH'")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/sessions_app/session/")
    session.refresh_from_db()
    assert session.recurrence_error == ""
    assert str(session.recurrence) == "RRULE:FREQ=WEEKLY;BYDAY=TH"
