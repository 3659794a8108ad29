"""``python manage.py bench_sweep --sessions N [--json]``: the sweep benchmark (not a test).

Builds N sessions with a year of weekly instances and 10·N people on whatever
``DATABASE_URL`` points to, then times the project's sweep, the per-session reference
algorithm and (PostgreSQL) the raw SQL limit side by side at a busy Friday evening.
Progress goes to stderr, so ``--json`` leaves stdout clean.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from bench.run import BenchmarkRefused, Report, run


class Command(BaseCommand):
    help = "Benchmark the active-session sweep against the per-session reference (builds its own data)."
    # A benchmark of the engine needs no URL or template checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, required=True, help="Number of sessions to build (at least 2)")
        parser.add_argument("--json", action="store_true", help="Print only the result as JSON")
        parser.add_argument("--reset", action="store_true", help="Empty ceol's tables first if they hold sessions")
        parser.add_argument(
            "--skip-reference", action="store_true", help="Do not run the per-session reference (slow at 100k)"
        )
        parser.add_argument("--people-per-session", type=int, default=10, help="People per session (default 10)")
        parser.add_argument("--explain", metavar="FILE", help="PostgreSQL: write EXPLAIN ANALYZE of the busy sweep")
        parser.add_argument(
            "--busy-runs",
            type=int,
            default=3,
            help="Busy sweeps per implementation, taking turns; the median is reported (default 3)",
        )
        parser.add_argument(
            "--second-slot",
            action="store_true",
            help="Give every session a second time slot (SessionSchedule) with its own weekly instances",
        )

    def handle(
        self,
        *args,
        sessions,
        reset,
        skip_reference,
        people_per_session,
        explain,
        busy_runs,
        second_slot=False,
        **options,
    ):
        if sessions < 2 or people_per_session < 1 or busy_runs < 1:
            raise CommandError(
                "--sessions must be at least 2, --people-per-session and --busy-runs at least 1.", returncode=2
            )
        verbose = options["verbosity"] > 0

        def progress(message: str) -> None:
            if verbose:
                self.stderr.write(message)
                self.stderr.flush()

        explain_to = open(explain, "w", encoding="utf-8") if explain else None  # noqa: SIM115
        try:
            report = run(
                sessions=sessions,
                reset=reset,
                skip_reference=skip_reference,
                people_per_session=people_per_session,
                progress=progress,
                explain_to=explain_to,
                busy_runs=busy_runs,
                second_slot=second_slot,
            )
        except BenchmarkRefused as exc:
            raise CommandError(str(exc), returncode=1) from None
        finally:
            if explain_to:
                explain_to.close()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), indent=2))
        else:
            self.stdout.write(render_table(report))


def render_table(report: Report) -> str:
    build = report.build
    lines = [
        f"ceol sweep benchmark: {report.sessions:,} sessions ({build.get('slots', report.sessions):,} time slots) "
        f"on {report.backend}",
        f"built in {build['build_s']:.1f} s: {build['instances']:,} instances, {build['people']:,} people, "
        f"{build['attendances']:,} answers",
        f"evaluated at {report.evaluated_at}; busy sweep from the previous cron run's state: "
        f"{report.changes['project']['activated']:,} activated, {report.changes['project']['deactivated']:,} "
        f"deactivated, {report.changes['project']['people_moved']:,} people moved",
        "",
        f"busy: median of {report.busy_runs} sweeps per implementation, taking turns; steady: median of 3",
        f"{'implementation':<15}{'busy s':>10}{'busy stmts':>12}{'steady s':>10}{'steady stmts':>14}",
    ]
    for name in ("project", "reference", "limit"):
        timing = getattr(report, name)
        if timing is None:
            note = "skipped (--skip-reference)" if name == "reference" else "PostgreSQL only"
            lines.append(f"{name:<15}{note:>46}")
            continue
        lines.append(
            f"{name:<15}{timing.busy_s:>10.3f}{timing.busy_statements:>12,}"
            f"{timing.steady_s:>10.4f}{timing.steady_statements:>14,}"
        )
    lines.append("")
    if report.reference:
        lines.append(f"reference / project: busy {report.ratio_busy:.1f}x, steady {report.ratio_steady:.1f}x")
    if report.limit:
        lines.append(
            f"project / limit: busy {report.project.busy_s / report.limit.busy_s:.2f}x, "
            f"steady {report.project.steady_s / report.limit.steady_s:.2f}x"
        )
    lines.append(f"same_state: {str(report.same_state).lower()}")
    return "\n".join(lines)
