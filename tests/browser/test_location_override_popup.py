"""The header popup names an instance's venue override, also when the poll (live.js)
fills it in without a reload."""

from __future__ import annotations

import pytest

from people.services import check_in

# The fixtures (fast_poll is autouse, player) and helpers of the page tests.
from tests.browser.test_pages import (  # noqa: F401
    WAIT_MS,
    assert_not_reloaded,
    fast_poll,
    log_in,
    make_session,
    mark_page,
    open_instance,
    player,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_polled_popup_shows_the_override(live_server, page, player):  # noqa: F811
    instance = open_instance(make_session("Mueller Monday", "mueller"))
    instance.location_override = "Upstairs at the Swan"
    instance.save()
    log_in(page, live_server)
    dot = page.locator("#active-session-dot")
    mark_page(page)
    check_in(person=player, instance=instance)
    dot.wait_for(state="visible", timeout=WAIT_MS)
    assert (
        dot.get_attribute("aria-label") == "You are at Mueller Monday, Upstairs at the Swan, Dublin: open the session"
    )
    dot.hover()
    assert "Upstairs at the Swan, Dublin" in page.locator("#active-session-popup").inner_text()
    assert "Mueller Monday Bar" not in page.locator("#active-session-popup").inner_text()
    assert_not_reloaded(page)
