"""Cron sweeps between full ones look only at the sessions that can have changed since the
previous sweep; a full sweep runs at least hourly, after gaps, and on request."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from sessions_app import clock
from sessions_app.active_sessions import FULL_SWEEP_INTERVAL, INCREMENTAL_LIMIT, update_active_sessions
from sessions_app.models import SessionInstance, SweepRun

pytestmark = pytest.mark.django_db

EVENING = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)  # Dublin, winter: UTC+0


@pytest.fixture
def wall_clock(monkeypatch):
    """The wall clock the sweep records as ``started_at`` (it decides when a full sweep is due)."""
    state = {"now": datetime(2026, 11, 30, 12, 0, tzinfo=UTC)}
    monkeypatch.setattr(clock, "now", lambda: state["now"])
    return state


def active_ids() -> set[int]:
    return set(SessionInstance.objects.filter(is_active=True).values_list("id", flat=True))


def last_run() -> SweepRun:
    return SweepRun.objects.order_by("-started_at", "-pk").first()


def test_windows_opening_and_closing_between_sweeps_are_seen(wall_clock, make_session, make_instance):
    early = make_instance(make_session(start_time=time(18, 0), end_time=time(20, 0)), date(2026, 1, 15))
    late = make_instance(make_session(start_time=time(21, 0), end_time=time(23, 0)), date(2026, 1, 15))
    update_active_sessions(EVENING - timedelta(hours=2))  # 19:00: early is on
    assert last_run().full and active_ids() == {early.pk}
    update_active_sessions(EVENING - timedelta(minutes=1))  # 21:00: early's window closes, late's opens
    assert not last_run().full
    assert active_ids() == {late.pk}


def test_a_bypassing_write_that_stops_an_instance_is_seen_at_once(wall_clock, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15))
    update_active_sessions(EVENING)
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=True)  # no hooks
    update_active_sessions(EVENING + timedelta(minutes=15))
    assert not last_run().full
    assert active_ids() == set()


def test_a_bypassing_write_that_starts_an_instance_waits_for_the_hourly_full_sweep(
    wall_clock, make_session, make_instance
):
    instance = make_instance(make_session(), date(2026, 1, 15), is_cancelled=True)
    update_active_sessions(EVENING)
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=False)  # no hooks
    wall_clock["now"] += FULL_SWEEP_INTERVAL - timedelta(minutes=15)
    update_active_sessions(EVENING + timedelta(minutes=15))
    assert (last_run().full, active_ids()) == (False, set())
    wall_clock["now"] += timedelta(minutes=15)
    update_active_sessions(EVENING + timedelta(minutes=30))
    assert (last_run().full, active_ids()) == (True, {instance.pk})


@pytest.mark.parametrize(
    "gap", [INCREMENTAL_LIMIT, -timedelta(minutes=15)], ids=["missed runs", "a simulated earlier time"]
)
def test_gaps_and_backward_steps_sweep_everything(wall_clock, make_session, make_instance, gap):
    instance = make_instance(make_session(), date(2026, 1, 15), is_cancelled=True)
    update_active_sessions(EVENING - gap)
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=False)  # no hooks
    update_active_sessions(EVENING)
    assert (last_run().full, active_ids()) == (True, {instance.pk})


def test_full_on_request(wall_clock, make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15), is_cancelled=True)
    update_active_sessions(EVENING)
    SessionInstance.objects.filter(pk=instance.pk).update(is_cancelled=False)  # no hooks
    update_active_sessions(EVENING + timedelta(minutes=1), full=True)
    assert (last_run().full, active_ids()) == (True, {instance.pk})


def test_auto_created_instances_are_activated_by_an_incremental_sweep(wall_clock, make_session):
    import recurrence

    update_active_sessions(EVENING - timedelta(minutes=15))  # a full sweep, nothing to do yet
    session = make_session(
        recurrence=recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=TH"), initiation_date=date(2026, 1, 1),
        auto_create_instances=True,
    )
    # Created mid-evening: the instance's window opened before the previous sweep's instant.
    result = update_active_sessions(EVENING)
    assert not last_run().full
    created = SessionInstance.objects.get(session=session, date=date(2026, 1, 15))
    assert [a["instance_id"] for a in result["activated"]] == [created.pk]
