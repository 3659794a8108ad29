"""Issue 8 in a real browser: privacy as an anonymous visitor, every badge and count
refreshed without a reload with one request per poll, near me with a granted
geolocation, the viewer's own time, long words on a phone, and screenshots of every
page at 1280x800 and 390x844 under test-artifacts/ (git-ignored)."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from people.models import Attendance, Person
from people.services import check_in
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db(transaction=True)

POLL_MS = 300
WAIT_MS = 8000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(autouse=True)
def fast_poll(settings):
    settings.LIVE_POLL_MS = POLL_MS


def make_session(name: str, slug: str, **fields) -> Session:
    values = {
        "venue_name": f"{name} Bar",
        "city": "Dublin",
        "country": "IE",
        "timezone": "Europe/Dublin",
        "start_time": time(20, 0),
        "end_time": time(23, 0),
    }
    values.update(fields)
    return Session.objects.create(name=name, slug=slug, **values)


def open_instance(session: Session) -> SessionInstance:
    start = (clock.now().astimezone(session.zone) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    # get_or_create: safe to run again after a "table is locked" (see ``retrying``).
    instance, _ = SessionInstance.objects.get_or_create(
        session=session,
        date=start.date(),
        start_time=start.time(),
        defaults={"end_time": (start + timedelta(hours=3)).time()},
    )
    update_active_sessions()
    instance.refresh_from_db()
    assert instance.is_active
    return instance


def person(first: str, *, share: bool = True, username: str | None = None) -> Person:
    user = User.objects.create_user(username, password="correct horse battery") if username else None
    return Person.objects.create(user=user, first_name=first, last_name="Player", share_location=share)


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", "correct horse battery")
    page.click("form.login button[type=submit]")
    page.wait_for_url(live_server.url + "/")


def retrying(write):
    """Run a write from the test thread while tabs poll the live server: SQLite's shared
    in-memory test database answers "table is locked" at once (no busy timeout for
    shared-cache table locks), so try again shortly, as a reader finishes quickly."""
    import time as timer

    from django.db import OperationalError

    for _ in range(50):
        try:
            return write()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            timer.sleep(0.1)
    return write()


def api_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if "/api/" in request.url else None)
    return seen


def test_an_anonymous_visitor_sees_counts_never_names(live_server, page):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    for first, share in (("Open", True), ("Shy", False)):
        someone = person(first, share=share)
        check_in(person=someone, instance=instance)
    for url in ("/", f"/instances/{instance.pk}/", f"/sessions/{instance.session.slug}/"):
        page.goto(live_server.url + url)
        text = page.locator("body").inner_text()
        assert "Player" not in text, url
    assert page.goto(f"{live_server.url}/instances/{instance.pk}/")
    assert page.locator("[data-here-count]").inner_text() == "1"  # the one who shares
    assert "Going (1)" in page.locator("body").inner_text()
    api = page.request.get(f"{live_server.url}/api/person/{Person.objects.get(first_name='Open').pk}/active_session")
    assert api.status == 401


def test_every_badge_and_count_refreshes_with_one_request_per_poll(live_server, browser, player_context):
    page = player_context.new_page()
    quiet = make_session("Quiet Night", "quiet")
    other = make_session("Other Night", "other")
    live = open_instance(make_session("Mueller Monday", "mueller"))
    log_in(page, live_server, "aoife")
    page.goto(f"{live_server.url}/")
    seen = api_requests(page)
    page.evaluate(
        "window.__notReloaded = true; window.__updates = 0;"
        "document.addEventListener('ceol:active-session-updated', () => window.__updates++)"
    )
    page.wait_for_timeout(POLL_MS * 6)
    polls = len(seen)
    assert polls >= 3
    assert all("/api/live?sessions=" in url for url in seen), seen  # one endpoint, one request per poll
    # The session page's ids: every session on the page in one request.
    assert {str(quiet.pk), str(other.pk), str(live.session_id)} <= set(seen[-1].split("=")[1].split(","))

    quiet_live = retrying(lambda: open_instance(quiet))
    badge = page.locator(f'#sessions [data-session-id="{quiet.pk}"] .live-now')
    badge.wait_for(state="visible", timeout=WAIT_MS)
    assert page.evaluate("window.__updates") >= 1
    # The here-now count in "Live now" follows too (a row rendered before the check-in).
    count = page.locator(f'#live-now [data-instance-id="{live.pk}"] [data-here-count]')
    assert count.inner_text() == "0"
    someone = retrying(lambda: person("Open"))
    retrying(lambda: check_in(person=someone, instance=live))
    page.wait_for_function(
        f"document.querySelector('#live-now [data-instance-id=\"{live.pk}\"] [data-here-count]').textContent === '1'",
        timeout=WAIT_MS,
    )
    assert page.evaluate("window.__notReloaded === true")

    # Session, instance and person pages: their badges go when the instance is cancelled.
    page.close()  # fewer tabs polling while the test thread writes
    player = Person.objects.get(user__username="aoife")
    retrying(lambda: check_in(person=player, instance=quiet_live))
    pages = {}
    badges = {
        "session": f'main [data-session-id="{quiet.pk}"] .live-now',
        "instance": "#instance-state .live-now",
        "person": "#current-location .live-now",
    }
    for name, url in (
        ("session", f"/sessions/{quiet.slug}/"),
        ("instance", f"/instances/{quiet_live.pk}/"),
        ("person", f"/people/{player.pk}/"),
    ):
        tab = player_context.new_page()
        tab.goto(live_server.url + url)
        assert tab.locator(badges[name]).count() >= 1, name
        tab.evaluate("window.__notReloaded = true")
        pages[name] = tab
    dot = pages["person"].locator("#active-session-dot")
    assert dot.is_visible()
    quiet_live.is_cancelled = True
    retrying(quiet_live.save)
    for name, tab in pages.items():
        tab.locator(badges[name]).first.wait_for(state="detached", timeout=WAIT_MS)
        assert tab.evaluate("window.__notReloaded === true"), name
    dot.wait_for(state="hidden", timeout=WAIT_MS)
    instance_tab = pages["instance"]
    assert instance_tab.locator("[data-live-changed]").is_visible()
    assert not instance_tab.locator("[data-live-only]").is_visible()


@pytest.fixture
def player_context(browser):
    User.objects.create_user("aoife", password="correct horse battery")
    Person.objects.create(user=User.objects.get(username="aoife"), first_name="Aoife", last_name="Byrne")
    context = browser.new_context()
    context.set_default_timeout(15000)
    yield context
    context.close()


def test_polling_pauses_while_the_tab_is_hidden(live_server, page):
    make_session("Quiet Night", "quiet")
    page.goto(live_server.url + "/")
    seen = api_requests(page)
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    seen.clear()
    page.wait_for_timeout(POLL_MS * 5)
    assert seen == []
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(POLL_MS * 3)
    assert len(seen) >= 1


def test_near_me_with_a_granted_geolocation(live_server, browser):
    for name, lat, lon in (
        ("Cork", "51.90120", "-8.47360"),
        ("Cobblestone", "53.34867", "-6.27807"),
        ("Galway", "53.27310", "-9.05118"),
    ):
        make_session(name, name.lower(), latitude=Decimal(lat), longitude=Decimal(lon))
    context = browser.new_context(geolocation={"latitude": 53.35, "longitude": -6.26}, permissions=["geolocation"])
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.locator("#near-me").click()
    page.wait_for_url("**/?lat=53.3500&lon=-6.2600")
    names = page.locator("#sessions .card .title a").all_inner_texts()
    assert names == ["Cobblestone", "Galway", "Cork"]
    assert "Sessions near you" in page.locator("#sessions-heading").inner_text()
    context.close()


def test_the_viewers_own_time_is_shown_when_their_zone_differs(live_server, browser):
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    page.goto(f"{live_server.url}/instances/{instance.pk}/")
    hint = page.locator("time .your-time").first
    assert "your time" in hint.inner_text()
    context.close()
    same = browser.new_context(timezone_id="Europe/Dublin")
    page = same.new_page()
    page.goto(f"{live_server.url}/instances/{instance.pk}/")
    assert page.locator("time .your-time").count() == 0
    same.close()


def test_long_words_wrap_on_a_phone(live_server, browser):
    session = make_session("Ceol" * 50, "long", venue_name="Venue" * 40)
    instance = open_instance(session)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    for url in ("/", f"/sessions/{session.slug}/", f"/instances/{instance.pk}/"):
        page.goto(live_server.url + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
    context.close()


def test_screenshots_of_every_page(live_server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    live = open_instance(
        make_session("Mueller Monday", "mueller", latitude=Decimal("53.35"), longitude=Decimal("-6.26"))
    )
    make_session("Quiet Night", "quiet", city="Galway")
    user = User.objects.create_user("aoife", password="correct horse battery", is_staff=True, is_superuser=True)
    me = Person.objects.create(user=user, first_name="Aoife", last_name="Byrne")
    check_in(person=me, instance=live)
    Attendance.objects.get(person=me)
    pages = {
        "home": "/",
        "country": "/?country=IE",
        "search": "/?q=quiet",
        "near": "/?lat=53.35&lon=-6.26",
        "session": "/sessions/mueller/",
        "instance": f"/instances/{live.pk}/",
        "person": f"/people/{me.pk}/",
        "login": "/accounts/login/",
        "admin-instances": "/admin/sessions_app/sessioninstance/",
    }
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(live_server.url + "/accounts/login/")
        page.screenshot(path=str(ARTIFACTS / f"login-anonymous-{width}x{height}.png"), full_page=True)
        page.goto(live_server.url + f"/instances/{live.pk}/")
        page.screenshot(path=str(ARTIFACTS / f"instance-anonymous-{width}x{height}.png"), full_page=True)
        log_in(page, live_server, "aoife")
        for name, url in pages.items():
            response = page.goto(live_server.url + url)
            assert response.status < 400, url
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"), full_page=True)
        context.close()
    assert len(list(ARTIFACTS.glob("*.png"))) >= 2 * (len(pages) + 2)
