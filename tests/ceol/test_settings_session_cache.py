"""Sessions in the database read through the shared file cache (``cached_db``): a
logged-in request costs one query, and a logout still ends the session everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session as StoredSession
from django.core.cache import caches


def cache_files() -> list[Path]:
    return list(Path(settings.CACHES["sessions"]["LOCATION"]).glob("*.djcache"))


def test_the_test_run_has_its_own_session_cache_directory():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert "ceol-test-sessions-" in settings.CACHES["sessions"]["LOCATION"]


@pytest.mark.django_db
@pytest.mark.urls("bench.load_urls")
def test_a_logged_in_request_reads_the_user_only(client, member, django_assert_num_queries):
    client.force_login(member.user)
    with django_assert_num_queries(1):  # the user; the session comes from the cache
        assert client.get("/bench/trivial-logged-in").content == b"yes"


@pytest.mark.django_db
@pytest.mark.urls("bench.load_urls")
def test_a_session_missing_from_the_cache_is_read_from_the_database(client, member, django_assert_num_queries):
    client.force_login(member.user)
    caches["sessions"].clear()  # another host, a restart, a culled file
    with django_assert_num_queries(2):
        assert client.get("/bench/trivial-logged-in").content == b"yes"
    with django_assert_num_queries(1):  # and cached again
        assert client.get("/bench/trivial-logged-in").content == b"yes"


@pytest.mark.django_db
@pytest.mark.urls("bench.load_urls")
def test_a_logout_ends_the_session_in_the_cache_and_the_database(client, member):
    client.force_login(member.user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).get("_auth_user_id") == str(member.user.pk)  # cached
    client.post("/accounts/logout/")
    assert not StoredSession.objects.filter(session_key=key).exists()
    assert SessionStore(key).get("_auth_user_id") is None
    # A copy of the old cookie is not logged in on any worker of the host.
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get("/bench/trivial-logged-in").content == b"no"


@pytest.mark.django_db
def test_session_cache_files_are_private(client, member):
    client.force_login(member.user)
    files = cache_files()
    assert files
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)
    assert Path(settings.CACHES["sessions"]["LOCATION"]).stat().st_mode & 0o077 == 0
