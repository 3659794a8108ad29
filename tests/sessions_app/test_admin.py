"""The admin shows 24-hour times (ceol/formats/en_GB) and coordinates for near me."""

from __future__ import annotations

import pytest

from tests.site_helpers import login_client

pytestmark = pytest.mark.django_db


def test_admin_times_are_24_hour(live_instance, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client = login_client(staff_user)
    listing = client.get("/admin/sessions_app/sessioninstance/").content.decode()
    assert ">21:00<" in listing and ">23:30<" in listing
    assert "p.m." not in listing
    form = client.get(f"/admin/sessions_app/session/{live_instance.session_id}/change/").content.decode()
    assert 'name="latitude"' in form and 'name="longitude"' in form
