"""The admin's inline for further time slots, edited with the django-recurrence widget."""

from datetime import date, time

import pytest
from django.contrib.auth.models import User

from sessions_app.models import Session, SessionSchedule, serialize_rules

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, live_server):
    User.objects.create_superuser("boss", "boss@example.com", "correct horse battery")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")


def swan() -> Session:
    return Session.objects.create(
        name="The Swan",
        slug="swan",
        venue_name="The Swan",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=TU",
        initiation_date=date(2026, 1, 6),
        start_time=time(21),
        end_time=time(23, 30),
    )


def add_slot_form(page, live_server, session: Session):
    page.goto(f"{live_server.url}/admin/sessions_app/session/{session.pk}/change/")
    page.wait_for_selector(".recurrence-widget")
    page.click("#schedules-group .add-row a")
    return page.locator("#schedules-0")


def test_the_admin_inline_saves_a_slot_made_with_the_widget(live_server, page):
    session = swan()
    log_in(page, live_server)
    slot = add_slot_form(page, live_server, session)
    widget = slot.locator("div.recurrence-widget")
    widget.locator("a.add-rule").click()
    rule = widget.locator(".panel").last
    rule.locator(".weekly td", has_text="Sun").click()
    interval = rule.locator("input[name=interval]")
    interval.fill("2")
    interval.dispatch_event("change")
    slot.locator("#id_schedules-0-label").fill("Sunday afternoon")
    slot.locator("#id_schedules-0-start_time").fill("16:00")
    slot.locator("#id_schedules-0-end_time").fill("19:00")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    saved = SessionSchedule.objects.get(session=session)
    assert serialize_rules(saved.recurrence) == "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU"
    assert (saved.label, saved.start_time, saved.end_time) == ("Sunday afternoon", time(16), time(19))
    # The session page says it in words, after the main slot.
    page.goto(f"{live_server.url}/sessions/{session.slug}/")
    assert "Tuesdays 21:00–23:30 · every other Sunday 16:00–19:00 (Sunday afternoon)" in page.inner_text(".facts")


def test_a_slot_without_a_rule_is_a_form_error_and_nothing_is_saved(live_server, page):
    session = swan()
    log_in(page, live_server)
    slot = add_slot_form(page, live_server, session)
    slot.locator("#id_schedules-0-start_time").fill("16:00")
    slot.locator("#id_schedules-0-end_time").fill("19:00")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    assert "A time slot needs its rules" in page.inner_text("#schedules-group")
    assert not SessionSchedule.objects.exists()
