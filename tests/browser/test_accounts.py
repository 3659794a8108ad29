"""A player's own tools in a real browser: sign up, log in, change sharing and see
"Here now" change for another member, the subscribe links, delete the account.
Screenshots at desktop and phone widths go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from people.models import Attendance, Person
from people.services import check_in
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PASSWORD = "reel-jig-hornpipe-42"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"accounts-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(SIZES["desktop"])


def live_instance() -> SessionInstance:
    session = Session.objects.create(
        name="Mueller Monday",
        slug="mueller",
        venue_name="Mueller's",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        start_time=time(20, 0),
        end_time=time(23, 0),
    )
    start = (clock.now().astimezone(session.zone) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    instance = SessionInstance.objects.create(
        session=session, date=start.date(), start_time=start.time(), end_time=(start + timedelta(hours=3)).time()
    )
    update_active_sessions()
    instance.refresh_from_db()
    assert instance.is_active
    return instance


def log_in(page, base: str, login: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_login", login)
    page.fill("#id_password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(base + "/")


def test_sign_up_share_location_subscribe_and_delete(live_server, browser, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    base = live_server.url
    instance = live_instance()
    watcher_user = User.objects.create_user("brid", password=PASSWORD)
    Person.objects.create(user=watcher_user, first_name="Bríd", last_name="Walsh")

    player = browser.new_context(viewport=SIZES["desktop"]).new_page()
    watcher = browser.new_context(viewport=SIZES["desktop"]).new_page()
    for page in (player, watcher):
        page.set_default_timeout(15000)

    # Sign up: the account and its Person exist, and the player is logged in.
    player.goto(base + "/accounts/signup/")
    player.fill("#id_first_name", "Nora")
    player.fill("#id_last_name", "Quinn")
    player.fill("#id_email", "nora@example.com")
    player.fill("#id_password1", PASSWORD)
    player.fill("#id_password2", PASSWORD)
    shoot(player, "signup")
    player.click("form.login button[type=submit]")
    player.wait_for_url(base + "/")
    person = Person.objects.get(user__email="nora@example.com")
    assert person.first_name == "Nora"
    assert player.get_by_role("link", name="My sessions").is_visible()

    # Log out and in again by email.
    player.get_by_role("button", name="Log out").click()
    player.wait_for_url(base + "/")
    log_in(player, base, "nora@example.com", PASSWORD)

    # Checked in and sharing: the other member sees Nora under "Here now".
    check_in(person=person, instance=instance)
    log_in(watcher, base, "brid", PASSWORD)
    watcher.goto(f"{base}/instances/{instance.pk}/")
    assert "Nora Quinn" in watcher.locator("#here-now").inner_text()

    # Sharing off on the profile: the sentence says what it does; Nora leaves "Here now".
    player.get_by_role("link", name="Profile").click()
    player.wait_for_url(base + "/accounts/profile/")
    assert "only you and the site's staff can" in player.locator("#share-location-effect").inner_text()
    webcal = player.locator("a.subscribe-webcal")
    assert webcal.get_attribute("href").startswith("webcal://") and person.calendar_token
    person.refresh_from_db()
    assert webcal.get_attribute("href").endswith(f"/calendar/{person.calendar_token}.ics")
    player.select_option("#id_country", "IE")
    player.fill("#id_city", "Dublin")
    player.uncheck("#id_share_location")
    shoot(player, "profile")
    player.get_by_role("button", name="Save").click()
    player.wait_for_url(base + "/accounts/profile/")
    person.refresh_from_db()
    assert person.share_location is False and person.country == "IE"
    watcher.reload()
    here_now = watcher.locator("h2", has_text="Here now").locator("xpath=following-sibling::*[1]")
    assert "Nora Quinn" not in here_now.inner_text()
    assert "Nobody" in here_now.inner_text() or watcher.locator("#here-now").count() == 0

    # The session page offers the calendar.
    player.goto(f"{base}/sessions/mueller/")
    assert player.locator("a.subscribe-webcal").get_attribute("href") == (
        f"webcal://{base.split('://', 1)[1]}/sessions/mueller/calendar.ics"
    )
    assert player.locator("a.subscribe-https").get_attribute("href") == f"{base}/sessions/mueller/calendar.ics"

    # My sessions lists the live instance first.
    player.get_by_role("link", name="My sessions").click()
    player.wait_for_url(base + "/accounts/my-sessions/")
    assert player.locator("#my-upcoming li").first.get_attribute("data-instance-id") == str(instance.pk)
    shoot(player, "my-sessions")

    # Delete the account, with confirmation.
    player.goto(base + "/accounts/profile/")
    player.get_by_role("link", name="Delete my account").click()
    player.wait_for_url(f"{base}/people/{person.pk}/delete/")
    shoot(player, "delete")
    player.check("#id_confirm")
    player.get_by_role("button", name="Delete my account").click()
    player.wait_for_url(base + "/")
    assert player.get_by_role("link", name="Log in").is_visible()
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not User.objects.filter(email="nora@example.com").exists()
    assert not Attendance.objects.filter(person_id=person.pk).exists()
    assert Person.objects.filter(user=watcher_user).exists()
