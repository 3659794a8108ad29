"""``EXPLAIN (ANALYZE, BUFFERS)`` of every statement of the project's busy sweep, taken
inside the sweep itself: each statement is explained right before it runs, so the plans
are the ones PostgreSQL picks on freshly flipped flags, with statistics from before the
flip (PITFALLS: "PostgreSQL plans at the busy moment"). Writes are explained inside a
savepoint that is rolled back, then run for real.
"""

from __future__ import annotations

import time as timer
from datetime import datetime

from django.db import connection

from sessions_app.active_sessions import update_active_sessions

EXPLAINABLE = ("select", "update", "insert", "delete", "with")


class PlanRecorder:
    def __init__(self):
        self.plans: list[tuple[str, str, float]] = []

    def __call__(self, execute, sql, params, many, context):
        if many or not sql.lstrip().lower().startswith(EXPLAINABLE) or "pg_" in sql and "advisory" in sql:
            return execute(sql, params, many, context)
        raw = context["cursor"].cursor
        writes = not sql.lstrip().lower().startswith("select")
        if writes:
            raw.execute("SAVEPOINT bench_explain")
        started = timer.perf_counter()
        raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in raw.fetchall())
        self.plans.append((sql, plan, timer.perf_counter() - started))
        if writes:
            raw.execute("ROLLBACK TO SAVEPOINT bench_explain")
        return execute(sql, params, many, context)


def explain_sweep(now: datetime, start, out, *, restore, sweep=None) -> None:
    """Restore ``start``, run ``sweep`` (the project's by default) at ``now`` and write
    each statement's plan to ``out``."""
    restore(start)
    recorder = PlanRecorder()
    with connection.execute_wrapper(recorder):
        if sweep is None:
            update_active_sessions(now, trigger="cron")
        else:
            sweep(now)
    for number, (sql, plan, seconds) in enumerate(recorder.plans, 1):
        short = sql if len(sql) < 1500 else sql[:1500] + f" ... ({len(sql):,} characters)"
        out.write(f"-- statement {number} ({seconds * 1000:.1f} ms with EXPLAIN ANALYZE)\n{short}\n{plan}\n\n")
