"""PostgreSQL concurrency (SPEC 4, issue 6 point 3-4): cron sweeps, check-ins, answers,
"I've left", cancellations, time edits and deletions at once, each thread on its own
connection, with the on-commit hooks really running. No deadlock, no error of any kind,
no ERROR logged by a hook; after each round's final sweep the state equals the oracle.

SQLite is skipped: its single write lock serialises every writer (``IMMEDIATE``
transactions), so there is no lock order to get wrong, and its test database is an
in-memory one that other threads' connections cannot share.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection

from people import services
from people.models import Attendance, Person
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance, SweepRun
from tests.oracle import (
    assert_second_sweep_changes_nothing,
    assert_swept_state,
    snapshot,
)

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 21, 29, tzinfo=UTC)  # t = 21:30 UTC, Dublin on UTC+0
T = NOW + settings.ACTIVE_SESSION_LOOKAHEAD
ROUNDS = 20
_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: SQLite serialises every writer on its one write lock (IMMEDIATE), "
            "and its in-memory test database cannot be shared by the threads' connections"
        )


@pytest.fixture
def fixed_clock(clock):
    """Every thread's clock (services, hooks, sweeps) reads NOW."""
    clock.set(NOW)


class ErrorRecords(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.guard = threading.Lock()  # not ``lock``: logging.Handler has its own

    def emit(self, record):
        with self.guard:
            self.records.append(record)


@pytest.fixture
def logged_errors():
    """ERROR records from any thread: Django's on-commit logging and ceol's own loggers
    (``ceol`` does not propagate to the root logger)."""
    handler = ErrorRecords()
    loggers = [logging.getLogger(), logging.getLogger("ceol")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


def run_at_once(jobs: dict[str, Callable[[], Any]], *, allowed: dict[str, tuple] | None = None) -> dict:
    """Run each job in its own thread (own connection), released together by a barrier.

    Returns ``{name: result}``; every exception except the ``allowed`` ones for that job
    is collected and makes the round fail.
    """
    allowed = allowed or {}
    barrier = threading.Barrier(len(jobs))
    results, errors = {}, []

    def run(name, job):
        try:
            barrier.wait(timeout=30)
            results[name] = job()
        except allowed.get(name, ()) as exc:
            results[name] = exc
        except Exception as exc:  # noqa: BLE001 - every error is the test's business
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item, name=item[0]) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert errors == [], f"errors under concurrency: {errors}"
    return results


def make_session(name: str, start: time, end: time) -> Session:
    n = next(_serial)
    return Session.objects.create(
        name=f"{name} {n}",
        slug=f"{name.lower()}-{n}",
        venue_name="Pub",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        start_time=start,
        end_time=end,
    )


def make_person(name: str) -> Person:
    return Person.objects.create(first_name=f"{name}{next(_serial)}", city="Dublin", country="IE")


def round_world():
    """Live instances of four sessions (all open at T), people answering and checked in."""
    w: dict[str, Any] = {}  # the round's instances and people, by role
    w["a1"] = SessionInstance.objects.create(session=make_session("Alpha", time(21, 0), time(23, 30)), date=TODAY)
    w["a2"] = SessionInstance.objects.create(
        session=w["a1"].session, date=TODAY, start_time=time(22, 0), end_time=time(23, 59)
    )  # overlaps a1, wins until moved earlier
    w["b1"] = SessionInstance.objects.create(session=make_session("Bravo", time(20, 30), time(23, 0)), date=TODAY)
    w["c1"] = SessionInstance.objects.create(session=make_session("Charlie", time(21, 0), time(23, 0)), date=TODAY)
    w["d1"] = SessionInstance.objects.create(session=make_session("Delta", time(21, 0), time(23, 0)), date=TODAY)
    for key in (
        "checker",
        "deleted_checker",
        "deleted_checker_2",
        "answerer",
        "leaver",
        "cancelled",
        "moved",
        "at_deleted",
        "at_deleted_2",
    ):
        w[key] = make_person(key.title())
    services.answer(person=w["answerer"], instance=w["a2"], status="yes")
    services.answer(person=w["answerer"], instance=w["b1"], status="yes")
    services.check_in(person=w["leaver"], instance=w["b1"])
    services.answer(person=w["leaver"], instance=w["c1"], status="yes")
    services.check_in(person=w["cancelled"], instance=w["d1"])
    services.answer(person=w["cancelled"], instance=w["c1"], status="yes")
    services.check_in(person=w["moved"], instance=w["a2"])
    services.check_in(person=w["deleted_checker"], instance=w["b1"])
    # Two people at the instance that is deleted, with somewhere else to go.
    for key in ("at_deleted", "at_deleted_2"):
        services.answer(person=w[key], instance=w["b1"], status="yes")
        services.check_in(person=w[key], instance=w["c1"])
    return w


def cancel(pk: int) -> None:
    instance = SessionInstance.objects.get(pk=pk)
    instance.is_cancelled = True
    instance.save()


def move_start(pk: int, start: time) -> None:
    instance = SessionInstance.objects.get(pk=pk)
    instance.start_time = start
    instance.save()


def delete(pk: int) -> None:
    SessionInstance.objects.get(pk=pk).delete()


def check_in(person_pk: int, instance_pk: int):
    return services.check_in(
        person=Person.objects.get(pk=person_pk), instance=SessionInstance.objects.get(pk=instance_pk)
    )


def answer_twice(person_pk: int, instance_pk: int):
    person, instance = Person.objects.get(pk=person_pk), SessionInstance.objects.get(pk=instance_pk)
    services.answer(person=person, instance=instance, status="no")
    return services.answer(person=person, instance=instance, status="yes")


def leave(person_pk: int, instance_pk: int):
    return services.leave(person=Person.objects.get(pk=person_pk), instance=SessionInstance.objects.get(pk=instance_pk))


def round_jobs(pk: dict[str, int]) -> dict:
    """One round's writers, all at once: sweeps, people acting (some on the instance being
    deleted), a cancellation, a time edit that hands the session to another instance, and
    the deletion."""
    return {
        "sweep 1": lambda: update_active_sessions(NOW),
        "sweep 2": lambda: update_active_sessions(NOW),
        "check-in": lambda: check_in(pk["checker"], pk["a1"]),
        "check-in on deleted": lambda: check_in(pk["deleted_checker"], pk["c1"]),
        "check-in on deleted 2": lambda: check_in(pk["deleted_checker_2"], pk["c1"]),
        "leave deleted": lambda: leave(pk["at_deleted"], pk["c1"]),
        "answer no on deleted": lambda: services.answer(
            person=Person.objects.get(pk=pk["at_deleted_2"]),
            instance=SessionInstance.objects.get(pk=pk["c1"]),
            status="no",
        ),
        "answers": lambda: answer_twice(pk["answerer"], pk["b1"]),
        "leave": lambda: leave(pk["leaver"], pk["b1"]),
        "cancel": lambda: cancel(pk["d1"]),
        "time edit": lambda: move_start(pk["a2"], time(20, 45)),  # a1 takes over
        "delete": lambda: delete(pk["c1"]),
    }


# Acting on the instance being deleted: either order is fine; on a deleted one the person
# is refused or the row is gone.
ON_DELETED = dict.fromkeys(
    ("check-in on deleted", "check-in on deleted 2", "leave deleted", "answer no on deleted"),
    (services.AttendanceRefused, ObjectDoesNotExist),
)


def test_concurrent_writers_never_deadlock_and_the_sweep_heals(fixed_clock, logged_errors):
    for round_number in range(ROUNDS):
        w = round_world()
        update_active_sessions(NOW)
        pk = {key: value.pk for key, value in w.items()}
        results = run_at_once(round_jobs(pk), allowed=ON_DELETED)
        assert not logged_errors, f"round {round_number}: ERROR logged: {[r.getMessage() for r in logged_errors]}"
        assert not SessionInstance.objects.filter(pk=pk["c1"]).exists()
        assert not Attendance.objects.filter(session_instance_id=pk["c1"]).exists()
        assert Attendance.objects.filter(
            person_id=pk["leaver"], session_instance_id=pk["b1"], left_at__isnull=False
        ).exists(), results["leave"]

        before = snapshot()
        result = update_active_sessions(NOW)
        assert "skipped" not in result
        after = assert_swept_state(before, T)
        assert_second_sweep_changes_nothing(update_active_sessions(NOW), after)


def test_sweeps_at_one_moment_do_the_work_once(fixed_clock, logged_errors):
    """Four cron sweeps at the same instant: one does the work, the others skip or find
    nothing to do; the SweepRun rows say the same."""
    for k in range(5):
        # Windows open at 22:00 + 10k minutes, after the hooks' t (21:30): only a sweep at
        # that moment activates them.
        start = time(23, 10 * k)
        sessions = [make_session("Same", start, time(1, 0)) for _ in range(3)]
        instances = [SessionInstance.objects.create(session=s, date=TODAY) for s in sessions]
        person = make_person("Same")
        services.answer(person=person, instance=instances[0], status="yes")
        now = datetime(2026, 1, 15, 22, 10 * k, tzinfo=UTC)
        before = snapshot()
        assert not before.active & {i.pk for i in instances}
        runs_before = set(SweepRun.objects.values_list("pk", flat=True))

        results = run_at_once({f"sweep {n}": partial(update_active_sessions, now) for n in range(4)})

        worked = [r for r in results.values() if "skipped" not in r and (r["activated"] or r["people_moved"])]
        assert len(worked) == 1, f"sweeps that did work: {worked}"
        assert {i["instance_id"] for i in worked[0]["activated"]} == {i.pk for i in instances}
        assert [m["person_id"] for m in worked[0]["people_moved"]] == [person.pk]
        for r in results.values():
            if r is not worked[0] and "skipped" not in r:
                assert not any(r[key] for key in ("activated", "deactivated", "auto_created", "people_moved")), r
        new_runs = SweepRun.objects.exclude(pk__in=runs_before)
        assert new_runs.count() == sum("skipped" not in r for r in results.values())
        assert new_runs.exclude(activated_count=0).count() == 1
        assert new_runs.get(activated_count=3).people_moved_count == 1
        assert_swept_state(before, now + settings.ACTIVE_SESSION_LOOKAHEAD)
        assert not logged_errors
