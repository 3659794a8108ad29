"""The site-wide pages that belong to no app: the icon, and the error pages Django renders
without the site's templates' context (400, the CSRF failure)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from tests.site_helpers import login_client

pytestmark = pytest.mark.django_db


def test_favicon_ico_redirects_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/ceol/favicon.svg")
    assert client.head("/favicon.ico").status_code == 301
    assert client.post("/favicon.ico").status_code == 405


def test_admin_pages_link_the_site_icon_and_wrap_long_names(db):
    admin = User.objects.create_superuser("root", "root@example.org", "x")
    for url in ["/admin/", "/admin/sessions_app/session/"]:
        body = login_client(admin).get(url).content.decode()
        assert 'rel="icon"' in body and "ceol/favicon.svg" in body, url
        assert "overflow-wrap: anywhere" in body, url
    login_page = Client().get("/admin/login/").content.decode()
    assert "ceol/favicon.svg" in login_page


@override_settings(ALLOWED_HOSTS=["ceol.example.org"])
def test_a_bad_request_outside_the_api_is_the_sites_400_page():
    response = Client().get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>Bad request</h1>" in response.content.decode()


def test_a_form_sent_without_its_csrf_token_gets_the_sites_403_page(live_instance, member):
    client = login_client(member.user, enforce_csrf_checks=True)
    response = client.post(f"/instances/{live_instance.pk}/answer/", {"status": "yes"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form has expired" in body and 'href="/"' in body
    assert not member.attendances.exists()


def test_a_page_the_account_may_not_see_is_the_sites_403_page(staff_user):
    response = login_client(staff_user).get("/admin/sessions_app/session/")
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.content.decode()
