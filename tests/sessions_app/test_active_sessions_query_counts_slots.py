"""The sweep's statement count with two time slots per session: the same fixed count as
with one (``test_active_sessions_query_counts``), at 1,000 and 100,000 sessions, busy or steady.
The instances carry their own times, so activation and the person step never look at
the slots; auto-create reads them only for the sessions that are due."""

from __future__ import annotations

import pytest

from bench import data
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SessionInstance, SessionSchedule
from tests.sessions_app.test_active_sessions_query_counts import BUSY_EXTRA, STEADY, expected


@pytest.mark.django_db
@pytest.mark.parametrize("sessions", [1_000, 100_000])
def test_sweep_statements_do_not_grow_with_sessions_and_slots(sessions, django_assert_num_queries):
    data.build(sessions=sessions, weeks=(0, 0), people_per_session=2, second_slot=True)
    assert SessionSchedule.objects.count() == sessions
    assert SessionInstance.objects.filter(schedule__isnull=False).count() == sessions
    update_active_sessions(data.BUSY_NOW - data.PREVIOUS_RUN)  # the previous cron run

    with django_assert_num_queries(expected(STEADY + BUSY_EXTRA)):
        busy = update_active_sessions(data.BUSY_NOW)
    assert len(busy["activated"]) > sessions // 4
    assert len(busy["deactivated"]) > sessions // 4
    assert len(busy["people_moved"]) > sessions // 2
    # Both kinds of slot win somewhere: the second slot's instance is active for many sessions.
    active = SessionInstance.objects.active()
    assert active.filter(schedule__isnull=False).count() > sessions // 4
    assert active.filter(schedule__isnull=True).count() > sessions // 10

    with django_assert_num_queries(expected(STEADY)):
        steady = update_active_sessions(data.BUSY_NOW)
    assert steady["activated"] == steady["deactivated"] == steady["people_moved"] == []
