"""Run the benchmark: build the data, then time each implementation of the sweep from
the same starting state at the same busy instant, and check they end in the same state.

The starting state is the one the previous cron run left, 15 minutes before the busy
instant (the project's sweep computes it once, untimed). From there the busy sweep
activates the third of the sessions whose windows open at ``t``, deactivates the third
that close at ``t`` and moves their people; the steady sweep repeats it at the same
instant and must change nothing.
"""

from __future__ import annotations

import statistics
import time as timer
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import connection

from bench import data
from bench.limit import limit_sweep
from bench.reference import reference_sweep
from people.models import Person
from sessions_app import clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.db import IdIn, assign_foreign_keys
from sessions_app.models import Session, SessionInstance

Sweep = Callable[[datetime], dict]


class BenchmarkRefused(Exception):
    """The database already holds sessions and ``reset`` was not asked for."""


@dataclass(frozen=True)
class State:
    """What every implementation must agree on: active instances and where people are."""

    active: frozenset[int]
    locations: frozenset[tuple[int, int]]


@dataclass
class Timing:
    busy_s: float
    steady_s: float
    busy_statements: int
    steady_statements: int


@dataclass
class Report:
    sessions: int
    backend: str
    same_state: bool
    project: Timing
    reference: Timing | None
    limit: Timing | None
    build: dict = field(default_factory=dict)
    changes: dict = field(default_factory=dict)
    evaluated_at: str = ""
    busy_runs: int = 1

    @staticmethod
    def _ratio(numerator: float | None, denominator: float) -> float | None:
        return None if numerator is None or denominator <= 0 else numerator / denominator

    @property
    def ratio_busy(self) -> float | None:
        return self._ratio(None if self.reference is None else self.reference.busy_s, self.project.busy_s)

    @property
    def ratio_steady(self) -> float | None:
        return self._ratio(None if self.reference is None else self.reference.steady_s, self.project.steady_s)

    def as_json(self) -> dict:
        """The shape other tools read (issue 3, item 8)."""
        return {
            "sessions": self.sessions,
            "backend": self.backend,
            "same_state": self.same_state,
            "project": asdict(self.project),
            "reference": asdict(self.reference) if self.reference else None,
            "limit": asdict(self.limit) if self.limit else None,
            "ratio_busy": self.ratio_busy,
            "ratio_steady": self.ratio_steady,
        }


class StatementCounter:
    """Counts every statement sent through Django's connection (``execute_wrapper``)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


STEADY_RUNS = 3  # no-op sweeps per implementation, median kept


def timed(sweep: Sweep, now: datetime) -> tuple[float, int, dict]:
    """(wall seconds, statements, result) of one sweep."""
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        started = timer.perf_counter()
        result = sweep(now)
        elapsed = timer.perf_counter() - started
    return elapsed, counter.count, result


def project_sweep(now: datetime) -> dict:
    result = update_active_sessions(now, trigger="cron")
    if result.get("skipped"):
        raise RuntimeError(f"The project's sweep was skipped: {result['skipped']}")
    return result


def capture_state() -> State:
    return State(
        active=frozenset(SessionInstance.objects.filter(is_active=True).values_list("id", flat=True)),
        locations=frozenset(
            Person.objects.filter(at_active_session_instance__isnull=False).values_list(
                "id", "at_active_session_instance_id"
            )
        ),
    )


def restore_state(state: State) -> None:
    """Put the flags and locations back to ``state`` (deactivate first: one active per session)."""
    SessionInstance.objects.filter(is_active=True).update(is_active=False)
    SessionInstance.objects.filter(IdIn("id", state.active)).update(is_active=True)
    Person.objects.filter(at_active_session_instance__isnull=False).update(at_active_session_instance=None)
    assign_foreign_keys(Person, "at_active_session_instance", dict(state.locations))


def change_counts(result: dict) -> dict:
    return {key: len(result[key]) for key in ("activated", "deactivated", "people_moved")}


def busy_once(name: str, sweep: Sweep, now: datetime, start: State, say) -> tuple[float, int, dict, State]:
    restore_state(start)
    busy_s, busy_statements, busy = timed(sweep, now)
    say(f"{name}: busy {busy_s:.3f} s, {busy_statements:,} statements, {change_counts(busy)}")
    return busy_s, busy_statements, change_counts(busy), capture_state()


def steady(name: str, sweep: Sweep, now: datetime, say) -> tuple[float, int]:
    """The median of STEADY_RUNS no-op sweeps (short, and the machine is noisy); each
    must change nothing."""
    steady_times = []
    for _ in range(STEADY_RUNS):
        steady_s, steady_statements, result = timed(sweep, now)
        leftover = change_counts(result)
        if any(leftover.values()):
            raise RuntimeError(f"{name}: a later sweep at the same instant still changed {leftover}")
        steady_times.append(steady_s)
    steady_s = statistics.median(steady_times)
    say(f"{name}: steady {steady_s:.3f} s (median of {STEADY_RUNS}), {steady_statements:,} statements")
    return steady_s, steady_statements


def measure_all(
    implementations: list[tuple[str, Sweep]], now: datetime, start: State, say, *, busy_runs: int
) -> tuple[dict[str, Timing], dict[str, State], dict[str, dict]]:
    """Each implementation's busy sweep ``busy_runs`` times, the implementations taking
    turns (so that a busy spell of the machine or a warm cache favours none of them), the
    median kept; then each one's steady sweep right after its own last busy sweep."""
    busy: dict[str, list[float]] = {name: [] for name, _ in implementations}
    timings, states, changes = {}, {}, {}
    for round_number in range(busy_runs):
        for name, sweep in implementations:
            busy_s, statements, changed, state = busy_once(name, sweep, now, start, say)
            busy[name].append(busy_s)
            states[name], changes[name] = state, changed
            if round_number == busy_runs - 1:
                steady_s, steady_statements = steady(name, sweep, now, say)
                timings[name] = Timing(statistics.median(busy[name]), steady_s, statements, steady_statements)
    return timings, states, changes


def run(
    *,
    sessions: int,
    reset: bool = False,
    skip_reference: bool = False,
    people_per_session: int = 10,
    weeks: tuple[int, int] = data.YEAR_OF_WEEKS,
    now: datetime = data.BUSY_NOW,
    progress: Callable[[str], None] = lambda message: None,
    explain_to=None,
    busy_runs: int = 3,
    second_slot: bool = False,
) -> Report:
    """Build N sessions and time the project, the reference and (PostgreSQL) the limit."""
    started = timer.perf_counter()

    def say(message: str) -> None:
        progress(f"[bench {timer.perf_counter() - started:7.1f}s] {message}")

    if Session.objects.exists():
        if not reset:
            raise BenchmarkRefused("The database already holds sessions; pass --reset to empty ceol's tables first.")
        say("emptying ceol's tables (--reset)")
        data.reset()
    build = data.build(
        sessions=sessions,
        now=now,
        weeks=weeks,
        people_per_session=people_per_session,
        second_slot=second_slot,
        progress=progress,
    )
    previous_now = now - data.PREVIOUS_RUN
    say(f"previous cron run at {clock.evaluation_instant(previous_now).isoformat()} (untimed) ...")
    warm_s, _, warm = timed(project_sweep, previous_now)
    say(f"previous run took {warm_s:.2f} s: {change_counts(warm)}")
    start = capture_state()

    postgres = connection.vendor == "postgresql"
    implementations: list[tuple[str, Sweep]] = [("project", project_sweep)]
    if not skip_reference:
        implementations.append(("reference", reference_sweep))
    if postgres:
        implementations.append(("limit", limit_sweep))
    timings, states, changes = measure_all(implementations, now, start, say, busy_runs=busy_runs)
    same_state = all(state == states["project"] for state in states.values())
    if explain_to is not None and postgres:
        from bench.explain import explain_sweep

        say("EXPLAIN ANALYZE of the project's and the limit's busy sweeps on freshly flipped data ...")
        for name, sweep in (("project", None), ("limit", limit_sweep)):
            explain_to.write(f"==== {name} ====\n\n")
            explain_sweep(now, start, explain_to, restore=restore_state, sweep=sweep)
    return Report(
        sessions=sessions,
        backend="postgresql" if postgres else connection.vendor,
        same_state=same_state,
        project=timings["project"],
        reference=timings.get("reference"),
        limit=timings.get("limit"),
        build=build,
        changes={"previous_run": change_counts(warm), **changes},
        evaluated_at=clock.evaluation_instant(now).isoformat(),
        busy_runs=busy_runs,
    )
