"""Every sweep costs a fixed number of SQL statements, the same at 1,000 and 100,000
sessions, busy or steady (SPEC section 4: cost grows with the changes, not the sessions).

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
# savepoint here: SAVEPOINT and RELEASE SAVEPOINT are counted too. Every sweep runs the
# same statements; the two updates of activation run only when something changes.
STEADY = [
    "SAVEPOINT (the sweep's transaction)",
    "SELECT pg_try_advisory_xact_lock: the sweep lock (PostgreSQL only)",
    "SELECT pg_advisory_xact_lock: the live-state lock every writer takes (PostgreSQL only)",
    "SELECT the tz database version the windows were computed with",
    "SELECT the zone names in use (a loose index scan), to find invalid ones",
    "SELECT sessions due for auto-create",
    "SELECT winners not yet active (row_number over the open windows)",
    "SELECT active instances that are not winners",
    "CREATE TEMPORARY TABLE of the live answers",
    "CREATE INDEX on it",
    "people who move: computed and written in one UPDATE ... RETURNING (PostgreSQL), or computed (SQLite)",
    "DROP the temporary table",
    "INSERT the SweepRun",
    "DELETE SweepRuns older than 30 days",
    "RELEASE SAVEPOINT",
]
BUSY_EXTRA = [
    "UPDATE deactivate what no longer qualifies",
    "UPDATE activate the winners",
    "UPDATE the people who move, one statement over json_each (SQLite only)",
]


def expected(statements: list[str]) -> int:
    """How many of these statements run on this database."""
    other = "SQLite only" if connection.vendor == "postgresql" else "PostgreSQL only"
    return len([s for s in statements if other not in s])


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
def test_a_quiet_minute_costs_the_steady_count(django_assert_num_queries):
    """One minute later nothing opens or closes (windows are on quarter hours)."""
    data.build(sessions=200, weeks=(0, 0), people_per_session=2)
    update_active_sessions(data.BUSY_NOW)
    with django_assert_num_queries(expected(STEADY)):
        quiet = update_active_sessions(data.BUSY_NOW + timedelta(minutes=1))
    assert quiet["activated"] == quiet["deactivated"] == quiet["people_moved"] == []
