"""The sweep's activation and person steps cost a fixed number of SQL statements,
the same at 1,000 and 100,000 sessions (issue 3, "Performance bars").

The data come from the benchmark's generator with only the busy week of instances (the
sweep's index range never reaches other weeks) and two people per session; the state
before the busy sweep is the one the previous cron run left 15 minutes earlier, so the
busy sweep activates, deactivates and moves people, and the steady one changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from bench import data
from sessions_app.active_sessions import update_active_sessions

# Each test runs inside pytest-django's transaction, so the sweep's atomic block is a
# savepoint here: SAVEPOINT and RELEASE SAVEPOINT are counted too.
# Both sweeps after the previous cron run are incremental (a full one ran minutes ago).
STEADY = [
    "SAVEPOINT (the sweep's transaction)",
    "SELECT pg_try_advisory_xact_lock (PostgreSQL only)",
    "SELECT the tz database version the windows were computed with",
    "SELECT the previous sweep's instant",
    "SELECT when the last full sweep started [incremental]",
    "SELECT sessions with an invalid timezone",
    "SELECT sessions due for auto-create",
    "SELECT sessions of active instances that no longer qualify [incremental]",
    "SELECT sessions with a termination date [incremental]",
    "SELECT their active instances [incremental]",
    "SELECT sessions of windows that opened since the previous sweep [incremental]",
    "INSERT the SweepRun",
    "DELETE SweepRuns older than 30 days",
    "RELEASE SAVEPOINT",
]
BUSY_EXTRA = [
    "SELECT winners not yet active (row_number over those sessions' open windows)",
    "SELECT active instances of those sessions that are not winners",
    "UPDATE deactivate what no longer qualifies",
    "UPDATE activate the winners",
    "SELECT people placed where they have no active yes [full]",
    "SELECT people at the deactivated instances",
    "SELECT people who said yes to the activated instances",
    "SELECT the newcomers' current locations",
    "SELECT the affected people's yes answers on active instances",
    "UPDATE the people who move (one statement over unnest / json_each)",
]


def expected(statements: list[str], *, full: bool = False) -> int:
    """How many of these statements run: "[full]" ones only in a full sweep, "[incremental]"
    ones only in an incremental one, "PostgreSQL only" ones only there."""
    skipped = [
        s for s in statements
        if ("PostgreSQL only" in s and connection.vendor != "postgresql")
        or ("[full]" in s and not full) or ("[incremental]" in s and full)
    ]
    return len(statements) - len(skipped)


@pytest.mark.django_db
@pytest.mark.parametrize("sessions", [1_000, 100_000])
def test_sweep_statements_do_not_grow_with_sessions(sessions, django_assert_num_queries):
    data.build(sessions=sessions, weeks=(0, 0), people_per_session=2)
    update_active_sessions(data.BUSY_NOW - data.PREVIOUS_RUN)  # the previous cron run

    with django_assert_num_queries(expected(STEADY + BUSY_EXTRA)):
        busy = update_active_sessions(data.BUSY_NOW)
    # A third of the sessions open at t and a third close; their people move.
    assert len(busy["activated"]) > sessions // 4
    assert len(busy["deactivated"]) > sessions // 4
    assert len(busy["people_moved"]) > sessions // 2

    with django_assert_num_queries(expected(STEADY)):
        steady = update_active_sessions(data.BUSY_NOW)
    assert steady["activated"] == steady["deactivated"] == steady["people_moved"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("sessions", [1_000, 100_000])
def test_a_full_sweep_costs_the_same_at_both_sizes(sessions, django_assert_num_queries):
    """The hourly full sweep evaluates every session, still in a fixed number of statements."""
    data.build(sessions=sessions, weeks=(0, 0), people_per_session=2)
    update_active_sessions(data.BUSY_NOW - data.PREVIOUS_RUN)
    # A forced full sweep does not even look up the previous one.
    statements = [s for s in STEADY + BUSY_EXTRA if "previous sweep's instant" not in s]
    with django_assert_num_queries(expected(statements, full=True)):
        busy = update_active_sessions(data.BUSY_NOW, full=True)
    assert len(busy["activated"]) > sessions // 4
    assert len(busy["people_moved"]) > sessions // 2


@pytest.mark.django_db
def test_a_quiet_minute_costs_the_steady_count(django_assert_num_queries):
    """One minute later nothing opens or closes (windows are on quarter hours)."""
    data.build(sessions=200, weeks=(0, 0), people_per_session=2)
    update_active_sessions(data.BUSY_NOW)
    with django_assert_num_queries(expected(STEADY)):
        quiet = update_active_sessions(data.BUSY_NOW + timedelta(minutes=1))
    assert quiet["activated"] == quiet["deactivated"] == quiet["people_moved"] == []
