from datetime import time, timedelta

import pytest
from django.contrib.auth.models import User

from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db(transaction=True)


def live_session() -> tuple[Session, SessionInstance]:
    """A session in Europe/Dublin whose instance runs around now."""
    now = clock.now()
    session = Session.objects.create(
        name="The Cobblestone",
        slug="cobblestone",
        venue_name="The Cobblestone",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        start_time=time(0, 0),
        end_time=time(0, 0),
    )
    local_now = now.astimezone(session.zone)
    start = (local_now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    instance = SessionInstance.objects.create(
        session=session, date=start.date(), start_time=start.time(), end_time=(start + timedelta(hours=3)).time()
    )
    update_active_sessions()
    instance.refresh_from_db()
    assert instance.is_active
    return session, instance


def test_home_lists_sessions_with_live_badge(live_server, page):
    session, _ = live_session()
    quiet = Session.objects.create(
        name="Quiet Night",
        slug="quiet",
        venue_name="Hall",
        city="Galway",
        country="IE",
        timezone="Europe/Dublin",
    )
    page.goto(live_server.url + "/")
    assert page.locator(f'#sessions [data-session-id="{session.pk}"] .live-now').inner_text() == "LIVE NOW"
    assert page.locator(f'#live-now [data-session-id="{session.pk}"] .live-now').inner_text() == "LIVE NOW"
    assert page.locator(f'[data-session-id="{quiet.pk}"]').is_visible()
    assert page.locator(f'[data-session-id="{quiet.pk}"] .live-now').count() == 0


def test_admin_session_form_shows_recurrence_widget(live_server, page):
    session, instance = live_session()
    User.objects.create_superuser("boss", "boss@example.com", "correct horse battery")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/sessions_app/session/{session.pk}/change/")
    # The widget is drawn by django-recurrence's JavaScript (needs the admin's JS catalog).
    page.wait_for_selector(".recurrence-widget")
    assert page.locator(".recurrence-widget").count() >= 1
    page.goto(f"{live_server.url}/admin/sessions_app/sessioninstance/?is_active__exact=1")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "Dublin" in page.locator("#result_list tbody tr").inner_text()
