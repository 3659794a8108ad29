"""``make run`` stays live (issue 6, item 8): ``runserver_with_sweeps`` serves the site and
sweeps on a wall-clock beat; a failed sweep is one line and the loop goes on; SIGINT or
SIGTERM stops the server's whole process group and then the command."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sessions_app.management.commands import runserver_with_sweeps
from sessions_app.management.commands.runserver_with_sweeps import seconds_to_next_sweep
from tests.subprocess_helpers import ROOT, manage_env, migrated_sqlite


def test_sweeps_are_aligned_on_the_wall_clock():
    # Every minute at :00, so that the sweep at hh:59 (t = hh+1:00) activates a window opening at hh+1:00.
    assert seconds_to_next_sweep(datetime(2026, 1, 15, 20, 59, 30, 500000, tzinfo=UTC), 60) == pytest.approx(29.5)
    assert seconds_to_next_sweep(datetime(2026, 1, 15, 21, 0, tzinfo=UTC), 60) == pytest.approx(60)
    assert seconds_to_next_sweep(datetime(2026, 1, 15, 21, 0, 1, tzinfo=UTC), 2) == pytest.approx(1)


@pytest.mark.parametrize("value", ["0", "3601", "soon", ""])
def test_a_bad_interval_is_a_command_error_with_returncode_2(value):
    with pytest.raises(CommandError) as caught:
        call_command("runserver_with_sweeps", "--sweep-interval", value, stdout=StringIO())
    assert caught.value.returncode == 2
    assert "--sweep-interval" in str(caught.value)


@pytest.mark.django_db
def test_a_failed_sweep_is_one_line_on_stderr(monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("database on fire\nsecond line")

    monkeypatch.setattr(runserver_with_sweeps, "update_active_sessions", fail)
    stderr = StringIO()
    command = runserver_with_sweeps.Command(stdout=StringIO(), stderr=stderr)
    command._sweep_once()
    command._sweep_once()
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.endswith(" - Sweep failed: database on fire") for line in lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_for(condition, timeout: float = 40.0, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def sweep_runs(database) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM sessions_app_sweeprun").fetchone()[0]


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


class Output:
    """The lines a child writes to a pipe, read in a thread as they come."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def matching(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def join(self):
        self._thread.join(timeout=10)


@pytest.fixture
def database(tmp_path):
    return migrated_sqlite(tmp_path)


@pytest.mark.parametrize(("stop_with", "reload"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_it_serves_sweeps_and_stops_with_its_server(database, stop_with, reload):
    port = free_port()
    args = [sys.executable, "manage.py", "runserver_with_sweeps", f"127.0.0.1:{port}", "--sweep-interval", "2"]
    if not reload:
        args.append("--noreload")
    child = subprocess.Popen(
        args, cwd=ROOT, env=manage_env(database, DEBUG="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = Output(child.stdout), Output(child.stderr)
    server_group: int | None = None
    try:
        started = wait_for(lambda: out.matching("(runserver pid "))
        assert started, (out.lines, err.lines)
        server_group = int(started[0].split("(runserver pid ")[1].split(")")[0])
        assert wait_for(lambda: status_of(f"http://127.0.0.1:{port}/") == 200), err.lines
        assert wait_for(lambda: sweep_runs(database) >= 3), (out.lines, err.lines)
        # The third run is committed a moment before its line is printed and read.
        assert wait_for(lambda: len(out.matching("Swept for t=")) >= 3), out.lines
        assert group_alive(server_group)

        # A failing sweep is one line each time, and the loop and the server go on.
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE sessions_app_sweeprun RENAME TO sweeprun_away")
        assert wait_for(lambda: len(err.matching("Sweep failed: ")) >= 2), err.lines
        assert status_of(f"http://127.0.0.1:{port}/") == 200
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE sweeprun_away RENAME TO sessions_app_sweeprun")
        before = sweep_runs(database)
        assert wait_for(lambda: sweep_runs(database) > before)

        child.send_signal(stop_with)
        assert child.wait(timeout=30) == 0
        out.join()
        err.join()
        assert out.lines[-1].endswith("Stopped the server and the sweeps")
        assert not group_alive(server_group)  # no runserver (nor its reloader's child) left behind
        assert status_of(f"http://127.0.0.1:{port}/") is None
        assert not [line for line in err.lines if "Traceback" in line]
        failures = err.matching("Sweep failed: ")
        assert all("no such table" in line for line in failures), failures
    finally:
        if child.poll() is None:
            child.kill()
        if server_group is not None and group_alive(server_group):
            os.killpg(server_group, signal.SIGKILL)  # a failed test leaves no runserver behind
            child.wait()
