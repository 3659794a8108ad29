"""Production settings: ``check --deploy`` is clean, errors reach the log, Sentry is opt-in."""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import path

from ceol import urls as ceol_urls

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a production process: DEBUG off, a long random key, a host and
    PostgreSQL (``check --deploy`` does not connect to it)."""
    # Not inherited: the test run's own switches (the browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly reports).
    unset = ("SECURE_", "SESSION_", "CSRF_", "SENTRY_", "DJANGO_ALLOW_ASYNC_UNSAFE", "CEOL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="ceol.example.org",
        DATABASE_URL="postgres://ceol@127.0.0.1:9/ceol",
        DJANGO_SETTINGS_MODULE="ceol.settings",
    )
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_deploy_reports_no_issues_with_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_would_catch_a_missing_hsts_setting():
    """The check above can fail: switching HSTS off by the environment is reported."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(SECURE_HSTS_SECONDS="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


PRINT_SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_PROXY_SSL_HEADER, s.SECURE_REDIRECT_EXEMPT)"
)


def test_https_settings_are_on_in_production_and_off_with_debug():
    production = run_python(PRINT_SECURITY, production_env())
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == ("True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https') ['^healthz$']")
    development = run_python(PRINT_SECURITY, production_env(DEBUG="1"))
    assert development.returncode == 0, development.stderr
    assert development.stdout.strip().startswith("False 0 False False")


def test_log_lines_go_to_stderr_with_a_timestamp():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('ceol.sweep').warning('sweep line'); logging.getLogger('ceol.sweep').info('not shown'); "
        "logging.getLogger('django.request').error('request failed')"
    )
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(rf"{stamp} WARNING ceol\.sweep \[\d+\]: sweep line", lines[0]), lines
    assert re.fullmatch(rf"{stamp} ERROR django\.request \[\d+\]: request failed", lines[1]), lines
    assert len(lines) == 2  # the sweep's INFO lines stay out by default (CEOL_SWEEP_LOG_LEVEL)


def test_sentry_is_off_without_a_dsn_and_on_with_one():
    code = (
        "import sys, django; django.setup(); "
        "print('sentry_sdk' in sys.modules); "
        "import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    )
    without = run_python(code, production_env())
    assert without.returncode == 0, without.stderr
    assert without.stdout.split() == ["False", "False"]
    # A DSN on the loopback: nothing is sent unless an error is reported.
    with_dsn = run_python(code, production_env(SENTRY_DSN="http://public@127.0.0.1:9/1"))
    assert with_dsn.returncode == 0, with_dsn.stderr
    assert with_dsn.stdout.split() == ["True", "True"]


def boom(request):
    raise RuntimeError("boom from a page")


urlpatterns = [path("boom/", boom), *ceol_urls.urlpatterns]
handler404 = ceol_urls.handler404
handler500 = ceol_urls.handler500


@pytest.mark.django_db
@pytest.mark.urls("tests.ceol.test_settings")
@override_settings(DEBUG=False)
def test_a_500_with_debug_off_logs_one_error_with_its_traceback(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert b"boom from a page" not in response.content
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    record = errors[0]
    assert record.name == "django.request"
    assert "/boom/" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "boom from a page" in caplog.text


def settings_printed(*names: str, **env: str) -> list[str]:
    """The production settings ``names`` (Python expressions over ``s``, the settings) as
    printed by a fresh process with ``env`` added."""
    code = "import django; django.setup(); from django.conf import settings as s; print(" + ", ".join(names) + ")"
    result = run_python(code, production_env(**env))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


SESSIONS = (
    "s.SESSION_ENGINE",
    "s.CACHES.get('sessions', {}).get('BACKEND')",
    "s.CACHES.get('sessions', {}).get('LOCATION')",
    "s.DATABASES['default']['CONN_HEALTH_CHECKS']",
)


def test_sessions_are_read_through_a_file_cache_the_workers_share():
    engine, backend, location, health_checks = settings_printed(*SESSIONS)
    assert engine == "django.contrib.sessions.backends.cached_db"
    assert backend == "django.core.cache.backends.filebased.FileBasedCache"
    assert Path(location) == ROOT / "var" / "session-cache"  # inside the application's tree
    assert health_checks == "True"


def test_the_session_cache_can_move_or_be_switched_off(tmp_path):
    assert settings_printed(*SESSIONS, SESSION_CACHE_DIR=str(tmp_path))[2] == str(tmp_path)
    off = settings_printed(*SESSIONS, SESSION_CACHE_DIR="off")
    assert off == ["django.contrib.sessions.backends.db", "None", "None", "True"]


def test_gunicorn_runs_two_workers_of_four_threads_by_default():
    code = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'], c['threads'], c['timeout'])"
    default = run_python(code, production_env())
    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == ["2", "4", "30"]
    sync = run_python(code, production_env(GUNICORN_THREADS="1", WEB_CONCURRENCY="3"))
    assert sync.stdout.split() == ["3", "1", "30"]


def test_templates_are_compiled_once_per_process_in_production():
    code = (
        "import django; django.setup(); from django.template import engines; "
        "print(engines['django'].engine.loaders[0][0])"
    )
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.template.loaders.cached.Loader"
