"""The orchestrator of the sweep (SPEC sections 3-5): one transaction, the live-state lock
first, auto-create (``auto_create.py``), then activation (``activation.py``), then the
person rule (``people.location``), then the ``SweepRun`` record; a dry run rolls it all back.

A sweep first checks the tz database version the stored windows were computed with
(``recompute.py``): after a ``tzdata`` upgrade it recomputes the windows of instances that
have not ended, in the same transaction, before it decides anything.

Two kinds of evaluation share every rule and the instant ``t = now + lookahead``:

- the **sweep** (cron and HTTP: ``update_active_sessions``) evaluates everything that can
  be wrong, from the data alone. It is the safety net: whatever wrote the rows (the models,
  ``bulk_create``, ``update()``, fixtures, SQL) and whether or not a hook ran, it leaves
  ``is_active``, every person's location and the auto-created instances as a sweep of a
  fresh copy of the data would. Its cost is bounded by what can change — open windows,
  active instances, due sessions, people who are somewhere or have a live ``yes`` — never
  by the number of sessions. It *tries* the sweep lock: a second sweep at the same moment
  returns ``"skipped"`` at once (``locks.claim_sweep``).
- a **re-evaluation** (``reevaluate``: event hooks, the admin, the staff API, services)
  looks only at the sessions and people a write touched, and *waits* for the lock, so no
  re-evaluation is dropped. It only makes a change immediate; the next sweep would make
  it anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction

import people.location as location
from sessions_app import activation, clock
from sessions_app.auto_create import auto_create
from sessions_app.hooks import hooks_suppressed, suppress_hooks  # noqa: F401 (re-exported for the signals)
from sessions_app.locks import ADVISORY_LOCK_KEY, SWEEP_LOCK_KEY, claim_sweep, lock_live_state  # noqa: F401
from sessions_app.models import SweepRun
from sessions_app.recompute import recompute_windows_if_tz_database_changed

logger = logging.getLogger("ceol.sweep")
hook_logger = logging.getLogger("ceol.hooks")

SWEEP_RUN_RETENTION = timedelta(days=30)
SWEEP_TRIGGERS = frozenset({SweepRun.Trigger.CRON, SweepRun.Trigger.HTTP})


class SweepFailed(Exception):
    """A fatal error (the database): nothing of the evaluation was kept."""


@dataclass(frozen=True)
class Scope:
    """What one evaluation looks at: everything (a sweep), or the listed sessions
    (auto-create, activation, and the people whose location depends on them) and people."""

    everything: bool = False
    session_ids: frozenset[int] = frozenset()
    person_ids: frozenset[int] = frozenset()

    @classmethod
    def all(cls) -> Scope:
        return cls(everything=True)

    @classmethod
    def of(cls, *, session_ids: Collection[int] = (), person_ids: Collection[int] = ()) -> Scope:
        return cls(session_ids=frozenset(session_ids), person_ids=frozenset(person_ids))


def _empty_result(t: datetime) -> dict:
    return {
        "evaluated_at": t.isoformat(),
        "activated": [],
        "deactivated": [],
        "auto_created": [],
        "people_moved": [],
        "errors": [],
    }


def _evaluate(t: datetime, scope: Scope) -> dict:
    """Auto-create, activate, place people: the whole rule set at ``t`` within ``scope``."""
    result = _empty_result(t)
    errors = result["errors"]
    session_ids = None if scope.everything else scope.session_ids
    if scope.everything or scope.session_ids:
        invalid, tz_errors = activation.invalid_timezones(session_ids=session_ids)
        errors.extend(tz_errors)
        result["auto_created"] = auto_create(t, session_ids=session_ids, skip=invalid, errors=errors)
        result["activated"], result["deactivated"] = activation.apply_activation(
            t, session_ids=session_ids, invalid=invalid
        )
    if scope.everything:
        result["people_moved"] = location.relocate_people(everyone=True)
    else:
        people = set(scope.person_ids) | location.people_of_sessions(scope.session_ids)
        result["people_moved"] = location.relocate_people(person_ids=people)
    return result


def _forget_rolled_back_ids(result: dict) -> None:
    """In a dry run, would-be-created instances were rolled back: name them ``None``."""
    phantom = {pk for entry in result["auto_created"] for pk in entry["instance_ids"]}
    for entry in result["auto_created"]:
        entry["instance_ids"] = [None] * len(entry["instance_ids"])
    for entry in result["activated"]:
        if entry["instance_id"] in phantom:
            entry["instance_id"] = None


def _record_run(result: dict, *, started_at: datetime, t: datetime, simulated: bool, trigger: str) -> None:
    errors = result["errors"]
    SweepRun.objects.create(
        started_at=started_at,
        finished_at=clock.now(),
        evaluated_at=t,
        simulated=simulated,
        trigger=trigger,
        activated_count=len(result["activated"]),
        deactivated_count=len(result["deactivated"]),
        auto_created_count=sum(c["instances_created"] for c in result["auto_created"]),
        people_moved_count=len(result["people_moved"]),
        errors=errors,
        status=SweepRun.Status.PARTIAL if errors else SweepRun.Status.OK,
        full=trigger in SWEEP_TRIGGERS,
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _record_failure(*, started_at: datetime, t: datetime, simulated: bool, trigger: str, message: str) -> None:
    """Write a ``failed`` row after the rollback, when the database is reachable at all."""
    try:
        with transaction.atomic():
            SweepRun.objects.create(
                started_at=started_at,
                finished_at=clock.now(),
                evaluated_at=t,
                simulated=simulated,
                trigger=trigger,
                errors=[{"session_id": None, "error": message}],
                status=SweepRun.Status.FAILED,
            )
    except DatabaseError as exc:
        # Usually the database is down: the caller reports the failure itself.
        logger.info("Could not record the failed sweep: %s", _first_line(exc))


def evaluate(
    now: datetime | None = None,
    *,
    scope: Scope,
    trigger: str,
    dry_run: bool = False,
    lookahead: timedelta | None = None,
) -> dict:
    """One evaluation at ``t = now + lookahead`` (defaults: the clock, the setting).

    A cron/HTTP sweep first claims the sweep lock without waiting (``"skipped"`` when
    another sweep holds it); every evaluation then waits for the live-state lock, and runs
    the rules within ``scope`` in one transaction. Records a
    ``SweepRun`` for sweeps, and for re-evaluations that changed something (not in a dry
    run). A database failure rolls everything back, records a ``failed`` run when the
    database is reachable and raises ``SweepFailed`` with a one-line message, which the
    caller reports (it is not logged here).
    """
    started_at = clock.now()
    simulated = now is not None
    t = clock.evaluation_instant(now, lookahead_=lookahead)
    try:
        with transaction.atomic(), suppress_hooks():
            if trigger in SWEEP_TRIGGERS and not claim_sweep():
                return {**_empty_result(t), "skipped": "another sweep is running"}
            lock_live_state(wait=True)
            if trigger in SWEEP_TRIGGERS:
                # After a tzdata upgrade the stored windows move first (both instants: the
                # simulated one and the real one), so this very sweep activates on them.
                recompute_windows_if_tz_database_changed(now=min(t, started_at))
            result = _evaluate(t, scope)
            changed = any(result[k] for k in ("activated", "deactivated", "auto_created", "people_moved"))
            if dry_run:
                transaction.set_rollback(True)
                _forget_rolled_back_ids(result)
            elif trigger in SWEEP_TRIGGERS or changed:
                _record_run(result, started_at=started_at, t=t, simulated=simulated, trigger=trigger)
                if trigger in SWEEP_TRIGGERS:
                    SweepRun.objects.filter(started_at__lt=started_at - SWEEP_RUN_RETENTION).delete()
    except DatabaseError as exc:
        message = f"Database error: {_first_line(exc)}"
        if not dry_run:
            _record_failure(started_at=started_at, t=t, simulated=simulated, trigger=trigger, message=message)
        raise SweepFailed(message) from exc
    for entry in result["errors"]:
        # Reported to the caller (command output, API body, SweepRun row); INFO avoids saying it twice.
        logger.info("Session %s skipped: %s", entry["session_id"], entry["error"])
    return result


def update_active_sessions(
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    trigger: str = SweepRun.Trigger.CRON,
    full: bool = True,
    lookahead: timedelta | None = None,
) -> dict:
    """The sweep: auto-create, then activate/deactivate, then place people, at
    ``t = now + ACTIVE_SESSION_LOOKAHEAD`` (``now`` defaults to the clock).

    Returns the dict of SPEC section 4, plus ``"skipped"`` when another sweep holds the
    lock. Every sweep evaluates everything that can be wrong (``full`` is accepted for
    the command's ``--full`` and changes nothing). ``dry_run`` computes everything and
    rolls it back. Raises ``SweepFailed`` (one line) on a database failure.
    """
    del full  # every sweep is full: see the module docstring
    return evaluate(now, scope=Scope.all(), trigger=trigger, dry_run=dry_run, lookahead=lookahead)


def reevaluate(
    *, session_ids: Collection[int] = (), person_ids: Collection[int] = (), trigger: str = SweepRun.Trigger.EVENT
) -> dict:
    """Re-evaluate these sessions and people now, waiting for the lock: the entry point of
    the event hooks, the admin, the staff API and the services."""
    return evaluate(scope=Scope.of(session_ids=session_ids, person_ids=person_ids), trigger=trigger)


def reevaluate_on_commit(
    what: str,
    *,
    session_ids: Collection[int] = (),
    person_ids: Collection[int] = (),
    people_of_instance: int | None = None,
) -> None:
    """For the event hooks: after the current transaction commits, ``reevaluate`` these
    sessions and people (``people_of_instance``: the people placed at or going to that
    instance, read then). A failure is one ERROR line naming ``what`` it was for, and the
    write that fired the hook stands: the next sweep heals it."""

    def run() -> None:
        try:
            people = person_ids if people_of_instance is None else location.people_concerned_by(people_of_instance)
            reevaluate(session_ids=session_ids, person_ids=people)
        except Exception as exc:  # noqa: BLE001 - a hook must never fail the write it follows
            hook_logger.error("Re-evaluation of %s failed; the next sweep heals it: %s", what, _first_line(exc))

    transaction.on_commit(run)


def auto_create_scheduled_instances(now: datetime | None = None, *, dry_run: bool = False) -> dict:
    """Only the auto-create step of the sweep, for every due session, in its own
    transaction under the lock (waiting for it); same return shape."""
    t = clock.evaluation_instant(now)
    with transaction.atomic(), suppress_hooks():
        lock_live_state(wait=True)
        result = _empty_result(t)
        invalid, tz_errors = activation.invalid_timezones(session_ids=None)
        result["errors"].extend(tz_errors)
        result["auto_created"] = auto_create(t, session_ids=None, skip=invalid, errors=result["errors"])
        if dry_run:
            transaction.set_rollback(True)
            _forget_rolled_back_ids(result)
    return result
