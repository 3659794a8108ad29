"""``python manage.py check_active_sessions``: run the sweep once (cron's entry point)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.dateparse import parse_datetime

from sessions_app import clock
from sessions_app.active_sessions import SweepFailed, update_active_sessions
from sessions_app.health import sweep_health

logger = logging.getLogger("ceol.sweep")


def parse_simulated_time(value: str) -> datetime:
    """ISO 8601 (``2026-01-15 19:00``, ``2026-01-15T19:00+01:00``); no offset means UTC."""
    text = value.strip()
    parsed = None
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    if parsed is None:
        raise CommandError(
            f"--simulate-time: {value!r} is not an ISO 8601 date and time (e.g. 2026-01-15T19:00+01:00)",
            returncode=2,
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        clock.check_evaluable(parsed)
    except ValueError as exc:
        raise CommandError(f"--simulate-time: {exc}", returncode=2) from None
    return parsed


class Command(BaseCommand):
    help = (
        "Activate and deactivate session instances for now (or a simulated time), "
        "auto-create instances and re-place people."
    )

    def add_arguments(self, parser):
        parser.add_argument("--simulate-time", help="Evaluate as if it were this ISO 8601 time (no offset: UTC)")
        parser.add_argument("--dry-run", action="store_true", help="Compute and print everything, write nothing")
        parser.add_argument("--json", action="store_true", help="Print only the result as JSON")
        parser.add_argument(
            "--full",
            action="store_true",
            help="Accepted for compatibility: every sweep evaluates everything it must (SPEC 4)",
        )
        parser.add_argument("--lookahead-minutes", help="Override ACTIVE_SESSION_LOOKAHEAD (minutes, 0-1440)")
        parser.add_argument(
            "--check-health",
            action="store_true",
            help="Do not sweep: exit 1 when no cron/HTTP sweep succeeded in the last 30 minutes, 0 otherwise",
        )

    def handle(self, *args, **options):
        if options.get("check_health"):
            # For external monitors: one line, exit 1 when stale or the database is unreachable.
            try:
                health = sweep_health()
            except DatabaseError as exc:
                raise CommandError(f"Health check failed: {exc}".splitlines()[0], returncode=1) from None
            if not health.fresh:
                raise CommandError(health.summary, returncode=1)
            self.stdout.write(health.summary)
            return
        simulate_time, dry_run, verbosity = options["simulate_time"], options["dry_run"], options["verbosity"]
        now = parse_simulated_time(simulate_time) if simulate_time is not None else None
        lookahead = self._parse_lookahead(options["lookahead_minutes"])
        if now is not None:
            try:
                clock.evaluation_instant(now, lookahead_=lookahead)
            except ValueError as exc:  # in range, but not once the lookahead is added
                raise CommandError(f"--simulate-time plus the lookahead: {exc}", returncode=2) from None
        as_json = options["json"]
        if not as_json:
            self._log("Starting active session check" + (" (dry run)" if dry_run else ""))
        try:
            result = update_active_sessions(now, dry_run=dry_run, trigger="cron", lookahead=lookahead)
        except (SweepFailed, DatabaseError) as exc:
            if verbosity >= 2:
                logger.exception("Active session check failed")
            raise CommandError(f"Active session check failed: {exc}", returncode=1) from None
        if as_json:
            self.stdout.write(self._dumps(result))
        else:
            self._report(result, verbosity)

    @staticmethod
    def _dumps(result: dict) -> str:
        return json.dumps(result, indent=2, default=str)

    @staticmethod
    def _parse_lookahead(value) -> timedelta | None:
        if value is None:
            return None
        try:
            minutes = int(str(value).strip())
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= 1440:
            raise CommandError(f"--lookahead-minutes: {value!r} is not a whole number from 0 to 1440", returncode=2)
        return timedelta(minutes=minutes)

    def _log(self, message: str) -> None:
        self.stdout.write(f"{clock.now():%Y-%m-%d %H:%M:%S} - {message}")

    def _report(self, result: dict, verbosity: int) -> None:
        if result.get("skipped"):
            self._log(f"Skipped: {result['skipped']}")
            return
        self._log(f"Evaluating at: {result['evaluated_at']}")
        self._log(f"Activated: {len(result['activated'])} sessions")
        if verbosity >= 1:
            for entry in result["activated"]:
                self.stdout.write(
                    f"  - {entry['session_name']} "
                    f"(session_id={entry['session_id']}, instance_id={entry['instance_id']})"
                )
        self._log(f"Deactivated: {len(result['deactivated'])} sessions")
        if verbosity >= 1:
            for entry in result["deactivated"]:
                self.stdout.write(
                    f"  - {entry['session_name']} "
                    f"(session_id={entry['session_id']}, instance_id={entry['instance_id']})"
                )
        created = sum(entry["instances_created"] for entry in result["auto_created"])
        self._log(f"Auto-created: {created} instances")
        if verbosity >= 2:
            for entry in result["auto_created"]:
                self.stdout.write(
                    f"  - {entry['session_name']} (session_id={entry['session_id']}): {', '.join(entry['dates'])}"
                )
        self._log(f"People moved: {len(result['people_moved'])}")
        if verbosity >= 2:
            for move in result["people_moved"]:
                self.stdout.write(
                    f"  - person_id={move['person_id']}: {move['from_instance_id']} -> {move['to_instance_id']}"
                )
        self._log(f"Errors: {len(result['errors'])}")
        for entry in result["errors"]:
            self.stderr.write(f"  - session_id={entry['session_id']}: {entry['error']}")
