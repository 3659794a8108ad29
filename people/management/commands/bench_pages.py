"""``python manage.py bench_pages --sessions 1000,100000 [--json] [--reset]``: the page
benchmark (not a test). For each size in turn it empties ceol's tables, builds that many
sessions and measures server time, queries and bytes of every page; the sizes are shown
side by side. Progress goes to stderr."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from bench import data
from bench.pages import measure_pages, render_side_by_side
from sessions_app.models import Session


class Command(BaseCommand):
    help = "Benchmark the pages and the JSON API at one or more sizes (builds its own data; empties ceol's tables)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--sessions", required=True, help="Sizes, comma-separated, e.g. 1000,100000")
        parser.add_argument("--json", action="store_true", help="Print only the results as JSON")
        parser.add_argument("--reset", action="store_true", help="Empty ceol's tables first if they hold sessions")

    def handle(self, *args, sessions, reset, **options):
        try:
            sizes = [int(part) for part in str(sessions).split(",") if part.strip()]
        except ValueError:
            raise CommandError("--sessions takes numbers, e.g. 1000,100000", returncode=2) from None
        if not sizes or min(sizes) < 2:
            raise CommandError("--sessions must be at least 2.", returncode=2)
        if Session.objects.exists() and not reset:
            raise CommandError(
                "The database already holds sessions; pass --reset to empty ceol's tables.", returncode=1
            )
        verbose = options["verbosity"] > 0

        def progress(message: str) -> None:
            if verbose:
                self.stderr.write(message)

        runs = []
        for size in sizes:
            data.reset()
            from django.contrib.auth.models import User

            User.objects.filter(username="bench-member").delete()
            progress(f"--- {size:,} sessions")
            runs.append(measure_pages(sessions=size, progress=progress))
        self.stdout.write(json.dumps(runs, indent=2) if options["json"] else render_side_by_side(runs))
