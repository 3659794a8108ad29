"""``python manage.py recompute_windows [--dry-run]``: repair stored windows written around save()."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from sessions_app import clock
from sessions_app.recompute import recompute_windows

logger = logging.getLogger("ceol.windows")


class Command(BaseCommand):
    help = (
        "Recompute the stored UTC windows (starts_at, ends_at, active_from, active_until) of every "
        "instance that has not ended from its local date and times and its session's zone and buffers. "
        "Run it after imports written around save() (bulk_create, update(), loaddata, SQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count the windows that would change, write nothing")

    def handle(self, *args, dry_run: bool = False, verbosity: int = 1, **options):
        try:
            result = recompute_windows(now=clock.now(), dry_run=dry_run)
        except DatabaseError as exc:
            if verbosity >= 2:
                logger.exception("Recomputing windows failed")
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CommandError(f"Recomputing windows failed: Database error: {first_line}", returncode=1) from None
        verb = "would be recomputed" if dry_run else "recomputed"
        self.stdout.write(
            f"{result['recomputed']} instance windows {verb} ({result['checked']} instances not ended checked)"
        )
