"""The header's viewer: their first name (the username when they have none), linked to
their person page; nothing for anonymous visitors."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.site_helpers import login_client

pytestmark = pytest.mark.django_db


def header_who(html: str) -> str | None:
    found = re.search(r'class="who"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def test_the_header_names_the_viewer_by_first_name(member):
    member.first_name = "Siobhán"
    member.save()
    html = login_client(member.user).get("/").content.decode()
    assert header_who(html) == "Siobhán"
    assert f'href="/people/{member.pk}/" class="who"' in html or f'class="who" href="/people/{member.pk}/"' in html


def test_without_a_first_name_the_header_shows_the_username(member):
    member.first_name = "  "
    member.save()
    assert header_who(login_client(member.user).get("/").content.decode()) == member.user.get_username()


def test_anonymous_visitors_get_no_name(client: Client, member):
    assert header_who(client.get("/").content.decode()) is None
