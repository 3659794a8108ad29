"""A sweep process killed with SIGKILL half-way leaves the database as before, and the
next sweep completes the work (SPEC 4: one transaction; issue 6).

PostgreSQL only: the sweep runs in a separate process (``sweep_until_killed.py``), which
must see the test's committed rows; SQLite's test database is in memory and private to
this process. (On SQLite the journal gives the same guarantee for a killed writer.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as wall
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from people.models import Attendance, Person
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SessionInstance, SweepRun
from tests.oracle import (
    assert_second_sweep_changes_nothing,
    assert_swept_state,
    expected_state,
    snapshot,
)

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).with_name("sweep_until_killed.py")
TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 21, 29, tzinfo=UTC)
T = NOW + settings.ACTIVE_SESSION_LOOKAHEAD


def database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_a_killed_sweep_leaves_the_database_as_before_and_the_next_one_completes(
    tmp_path, make_session, make_instance, make_person
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: the killed sweep runs in another process, which cannot open "
            "SQLite's in-memory test database"
        )
    # The hooks evaluate at the real clock (months later): nothing of this is live for them.
    tonight = make_instance(make_session(name="Tonight"), TODAY)
    also = make_instance(make_session(name="Also tonight", start_time=wall(20, 30)), TODAY)
    stale = make_instance(make_session(name="Stale"), date(2026, 1, 10))
    SessionInstance.objects.filter(pk=stale.pk).update(is_active=True)  # must be switched off
    goer, stuck = make_person(first_name="Goer"), make_person(first_name="Stuck")
    Attendance.objects.create(person=goer, session_instance=tonight, status="yes")
    Attendance.objects.create(person=stuck, session_instance=stale, status="yes")
    Person.objects.filter(pk=stuck.pk).update(at_active_session_instance=stale)
    before = snapshot()
    assert expected_state(before, T) != (before.active, before.locations)  # there is work to do

    marker = tmp_path / "in-person-step.json"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CEOL_SWEEP_MARKER": str(marker),
        "CEOL_SWEEP_NOW": NOW.isoformat(),
    }
    process = subprocess.Popen([sys.executable, str(SCRIPT)], env=env, stderr=subprocess.PIPE, text=True)
    try:

        def reached() -> dict | None:
            if process.poll() is not None:
                pytest.fail(f"the sweep process ended (exit {process.returncode}): {process.communicate()[1]}")
            return json.loads(marker.read_text()) if marker.exists() and marker.read_text() else None

        seen = wait_for(reached, seconds=60, what="the sweep to reach the person step")
        # Killed inside the transaction, after the activation statements ran.
        assert seen["in_transaction"]
        assert set(seen["active"]) == {tonight.pk, also.pk} != before.active
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # The server notices the dead client and rolls its transaction back (releasing its locks).
    def backend_gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [seen["pid"]])
            return cursor.fetchone()[0] == 0

    wait_for(backend_gone, seconds=20, what="the killed sweep's server process to end")
    after_kill = snapshot()
    assert after_kill.state() == before.state(), "the killed sweep left changes behind"
    assert after_kill.sweep_runs == before.sweep_runs == SweepRun.objects.count()

    result = update_active_sessions(NOW)
    assert "skipped" not in result
    assert {a["instance_id"] for a in result["activated"]} == {tonight.pk, also.pk}
    done = assert_swept_state(before, T)
    assert SweepRun.objects.count() == before.sweep_runs + 1
    assert_second_sweep_changes_nothing(update_active_sessions(NOW), done)
