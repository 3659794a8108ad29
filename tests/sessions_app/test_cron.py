"""The django-crontab job reports a failed sweep itself (django-crontab swallows errors)."""

import logging

import pytest
from django.conf import settings
from django.db import OperationalError

from sessions_app import active_sessions, cron
from sessions_app.models import SweepRun

pytestmark = pytest.mark.django_db


def test_the_cron_entry_runs_the_job_on_the_contract_schedule():
    schedule, job, *_ = settings.CRONJOBS[0]
    assert (schedule, job) == ("14,29,44,59 * * * *", "sessions_app.cron.check_active_sessions")


def test_a_sweep_that_runs_is_reported_as_run():
    assert cron.check_active_sessions() is True
    run = SweepRun.objects.get()  # it did sweep, once, as the cron job
    assert (run.trigger, run.status, run.simulated) == ("cron", "ok", False)


def test_a_failed_sweep_is_logged_as_an_error(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(active_sessions, "_evaluate", broken)
    with caplog.at_level(logging.ERROR, logger="ceol.cron"):
        assert cron.check_active_sessions() is False
    assert "check_active_sessions failed" in caplog.text and "connection refused" in caplog.text
