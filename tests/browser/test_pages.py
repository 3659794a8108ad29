"""The pages in a real browser: header dot and popup, live updates without a reload,
attendance buttons. Data is committed (the live server runs in another thread)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.contrib.auth.models import User

from people.models import Attendance, Person
from people.services import answer, check_in
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db(transaction=True)

POLL_MS = 300
WAIT_MS = 8000  # many polls: the update must come from polling, well before this


@pytest.fixture(autouse=True)
def fast_poll(settings):
    settings.LIVE_POLL_MS = POLL_MS


def make_session(name: str, slug: str) -> Session:
    return Session.objects.create(
        name=name,
        slug=slug,
        venue_name=f"{name} Bar",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        start_time=time(20, 0),
        end_time=time(23, 0),
    )


def open_instance(session: Session) -> SessionInstance:
    """An instance of ``session`` that started 30 minutes ago (local time), activated."""
    start = (clock.now().astimezone(session.zone) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    instance = SessionInstance.objects.create(
        session=session, date=start.date(), start_time=start.time(), end_time=(start + timedelta(hours=3)).time()
    )
    update_active_sessions()
    instance.refresh_from_db()
    assert instance.is_active
    return instance


@pytest.fixture
def player() -> Person:
    user = User.objects.create_user("aoife", password="correct horse battery")
    return Person.objects.create(user=user, first_name="Aoife", last_name="Byrne", city="Dublin", country="IE")


def log_in(page, live_server, username: str = "aoife") -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", "correct horse battery")
    page.click("form.login button[type=submit]")
    page.wait_for_url(live_server.url + "/")


def mark_page(page) -> None:
    """Tag the loaded document: the tag survives only if the page is never reloaded."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__notReloaded === true")


def test_header_dot_popup_and_click(live_server, page, player):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    check_in(person=player, instance=instance)
    log_in(page, live_server)
    dot = page.locator("#active-session-dot")
    assert dot.is_visible()
    assert dot.get_attribute("aria-label") == "You are at Mueller Monday, Mueller Monday Bar, Dublin: open the session"
    popup = page.locator("#active-session-popup")
    assert not popup.is_visible()
    dot.hover()
    popup.wait_for(state="visible")
    text = popup.inner_text()
    assert "Mueller Monday" in text and "Mueller Monday Bar, Dublin" in text
    assert f"{instance.start_time:%H:%M} GMT – {instance.end_time:%H:%M} GMT" in text
    dot.click()
    page.wait_for_url(f"{live_server.url}/instances/{instance.pk}/")
    assert page.locator("h1").inner_text().startswith("Mueller Monday")


def test_dot_appears_and_goes_without_a_reload(live_server, page, player):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    log_in(page, live_server)
    dot = page.locator("#active-session-dot")
    assert dot.count() == 1 and not dot.is_visible()
    mark_page(page)
    check_in(person=player, instance=instance)
    dot.wait_for(state="visible", timeout=WAIT_MS)
    assert dot.get_attribute("href") == f"/instances/{instance.pk}/"
    dot.hover()
    assert "Mueller Monday" in page.locator("#active-session-popup").inner_text()
    page.mouse.move(0, 300)
    # "Not going" moves the person off at once (the attendance hook, on commit).
    answer(person=player, instance=instance, status="no")
    player.refresh_from_db()
    assert player.at_active_session_instance_id is None
    dot.wait_for(state="hidden", timeout=WAIT_MS)
    assert_not_reloaded(page)


def test_live_badge_appears_and_disappears_without_a_reload(live_server, page):
    session = make_session("Saengerrunde", "saengerrunde")
    page.goto(live_server.url + "/")
    badge = page.locator(f'[data-session-id="{session.pk}"] .live-now')
    assert badge.count() == 0
    mark_page(page)
    instance = open_instance(session)
    badge.wait_for(state="visible", timeout=WAIT_MS)
    assert badge.inner_text() == "LIVE NOW"
    instance.is_cancelled = True
    instance.save()  # the instance hook deactivates it on commit
    instance.refresh_from_db()
    assert not instance.is_active
    badge.wait_for(state="detached", timeout=WAIT_MS)
    assert_not_reloaded(page)


def test_badge_on_the_session_page_follows_too(live_server, page):
    session = make_session("Saengerrunde", "saengerrunde")
    page.goto(f"{live_server.url}/sessions/{session.slug}/")
    mark_page(page)
    open_instance(session)
    page.locator(f'[data-session-id="{session.pk}"] .live-now').wait_for(state="visible", timeout=WAIT_MS)
    assert_not_reloaded(page)


def test_attendance_buttons_and_check_in(live_server, page, player):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/instances/{instance.pk}/")
    assert not page.locator("#active-session-dot").is_visible()
    page.get_by_role("button", name="Maybe").click()
    page.wait_for_selector("text=Your answer for Mueller Monday: Maybe.")
    assert page.get_by_role("button", name="Maybe").get_attribute("aria-pressed") == "true"
    assert Attendance.objects.get(person=player, session_instance=instance).status == "maybe"
    assert "Aoife Byrne" in page.locator("#maybe").inner_text()

    page.get_by_role("button", name="I'm here").click()
    page.wait_for_selector("text=You are checked in at Mueller Monday.")
    assert page.locator("#active-session-dot").is_visible()
    assert "Aoife Byrne" in page.locator("#here-now").inner_text()
    player.refresh_from_db()
    assert player.at_active_session_instance_id == instance.pk

    page.get_by_role("button", name="Not going").click()
    page.wait_for_selector("text=Your answer for Mueller Monday: Not going.")
    player.refresh_from_db()
    assert player.at_active_session_instance_id is None
    assert not page.locator("#active-session-dot").is_visible()


def test_a_click_made_logged_out_is_carried_out_after_login(live_server, page, player):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    page.goto(f"{live_server.url}/instances/{instance.pk}/")
    page.get_by_role("button", name="Going", exact=True).click()
    page.wait_for_url(f"{live_server.url}/accounts/login/**")
    page.fill("#id_login", "aoife")
    page.fill("#id_password", "correct horse battery")
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{live_server.url}/instances/{instance.pk}/")
    # The click made while logged out is carried out after the login.
    assert Attendance.objects.get(person=player).status == "yes"
    assert "Your answer for Mueller Monday: Going." in page.content()
