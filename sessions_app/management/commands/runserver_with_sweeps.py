"""``python manage.py runserver_with_sweeps [ADDRPORT]``: what ``make run`` serves.

Django's development server in a child process, and the sweep every minute in this one,
so that the local site stays live: badges come on as windows open and go off after they
close, as they would under the production schedule (Render / cron, 14,29,44,59). The
sweep runs at the start of every minute on the wall clock: with ``t = now + lookahead``
(one minute) a window opening at hh:00 is active from the sweep at hh-1:59.

One line per sweep on stdout, and one per session error on stderr; a failed sweep is one
line and the loop goes on. Ctrl-C (SIGINT) or SIGTERM stops the server — its whole
process group, the autoreloader's child included — and then this process.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SweepRun

STOP_GRACE_SECONDS = 10
DEFAULT_ADDRPORT = "127.0.0.1:8000"


def seconds_to_next_sweep(now: datetime, interval: int) -> float:
    """Seconds from ``now`` to the next multiple of ``interval`` seconds of wall-clock time
    (the start of the next minute for 60)."""
    stamp = now.timestamp()
    upcoming = math.floor(stamp / interval) * interval + interval
    return max(upcoming - stamp, 0.0)


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when nobody is left in it."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True


class Command(BaseCommand):
    help = (
        "Serve the site with Django's development server and run the active-session sweep every "
        "minute while it serves (make run). Ctrl-C stops both."
    )
    requires_system_checks = []  # the server checks on start; the sweep needs none

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default=DEFAULT_ADDRPORT, help="As for runserver")
        parser.add_argument(
            "--sweep-interval",
            default="60",
            help="Seconds between sweeps, aligned on the wall clock (1-3600; default 60)",
        )
        parser.add_argument("--noreload", action="store_true", help="Pass --noreload to runserver")

    def handle(self, *args, addrport: str, sweep_interval: str, noreload: bool, **options):
        interval = self._parse_interval(sweep_interval)
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        server = self._start_server(addrport, noreload=noreload)
        self._say(f"Serving on http://{addrport}/ (runserver pid {server.pid}); sweeping every {interval} s")
        try:
            while not stop.is_set() and server.poll() is None:
                self._sweep_once()
                self._wait(stop, server, seconds_to_next_sweep(clock.now(), interval))
        finally:
            returncode = self._stop_server(server)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if not stop.is_set():
            raise CommandError(f"The development server stopped (exit {returncode})", returncode=1)
        self._say("Stopped the server and the sweeps")

    @staticmethod
    def _parse_interval(value) -> int:
        try:
            seconds = int(str(value).strip())
        except ValueError:
            seconds = 0
        if not 1 <= seconds <= 3600:
            raise CommandError(
                f"--sweep-interval: {value!r} is not a whole number of seconds from 1 to 3600", returncode=2
            )
        return seconds

    @staticmethod
    def _start_server(addrport: str, *, noreload: bool) -> subprocess.Popen:
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runserver", addrport]
        if noreload:
            command.append("--noreload")
        # Its own process group: Ctrl-C reaches it through us, and stopping the group
        # also stops the autoreloader's child, which would otherwise keep serving.
        return subprocess.Popen(command, start_new_session=True)

    @staticmethod
    def _stop_server(server: subprocess.Popen) -> int:
        """SIGINT to the server's process group (runserver's own Ctrl-C), then SIGKILL to
        whatever is left in it after ``STOP_GRACE_SECONDS``; returns the server's exit code."""
        _signal_group(server.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=STOP_GRACE_SECONDS)
        _signal_group(server.pid, signal.SIGKILL)
        returncode = server.wait()
        # The reloader's child is not ours to wait for: give it a moment to be gone.
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while _signal_group(server.pid, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        return returncode

    @staticmethod
    def _wait(stop: threading.Event, server: subprocess.Popen, seconds: float) -> None:
        """Sleep until the next sweep, a signal, or the server exiting (checked every second)."""
        deadline = clock.now().timestamp() + seconds
        while not stop.is_set() and server.poll() is None:
            left = deadline - clock.now().timestamp()
            if left <= 0:
                return
            stop.wait(min(left, 1.0))

    def _sweep_once(self) -> None:
        try:
            result = update_active_sessions(trigger=SweepRun.Trigger.CRON)
        except Exception as exc:  # noqa: BLE001 — one line, and the next sweep tries again
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._say(f"Sweep failed: {first}", error=True)
        else:
            if result.get("skipped"):
                self._say(f"Sweep skipped: {result['skipped']}")
            else:
                created = sum(entry["instances_created"] for entry in result["auto_created"])
                self._say(
                    f"Swept for t={result['evaluated_at']}: {len(result['activated'])} activated, "
                    f"{len(result['deactivated'])} deactivated, {created} auto-created, "
                    f"{len(result['people_moved'])} people moved, {len(result['errors'])} errors"
                )
                for entry in result["errors"]:
                    self._say(f"  session_id={entry['session_id']}: {entry['error']}", error=True)
        finally:
            connections.close_all()  # a fresh connection each minute survives a database restart

    def _say(self, message: str, *, error: bool = False) -> None:
        stream = self.stderr if error else self.stdout
        stream.write(f"{clock.now():%Y-%m-%d %H:%M:%S} - {message}")
        stream.flush()
