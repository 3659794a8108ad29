"""The sweep: auto-create instances, then activate and deactivate them, then re-place
people — one transaction, one writer at a time, the same rules for cron, HTTP, event
hooks and the admin (SPEC sections 3-5).

Cost grows with the number of changes, not with the number of sessions: activation is a
fixed handful of set-based statements over the stored UTC windows, and recurrence
expansion touches only sessions whose auto-create horizon is due. Between full sweeps
(hourly, after gaps, on request) a cron/HTTP sweep evaluates only the sessions that can
have changed since the previous one (``_incremental_since``, ``_sessions_that_may_change``).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import recurrence as recurrence_lib
import recurrence.exceptions
from django.db import DatabaseError, connection, transaction
from django.db.models import F, TextField, Window
from django.db.models.functions import Cast, RowNumber

from people.location import people_concerned_by, relocate_people
from sessions_app import clock
from sessions_app.db import IdIn, TextIn
from sessions_app.locks import ADVISORY_LOCK_KEY, lock_live_state  # noqa: F401 (re-exported)
from sessions_app.models import Session, SessionInstance, SweepRun
from sessions_app.occurrences import RecurrenceError, occurrence_starts
from sessions_app.recompute import recompute_windows_if_tz_database_changed
from sessions_app.windows import MAX_WINDOW, valid_timezone_names

logger = logging.getLogger("ceol.sweep")

SWEEP_RUN_RETENTION = timedelta(days=30)
# How far past the horizon to look for the next occurrence when scheduling the next
# auto-create; a session with none in that span is looked at again after it.
NEXT_OCCURRENCE_SEARCH = timedelta(days=400)
WAITING_TRIGGERS = {SweepRun.Trigger.EVENT, SweepRun.Trigger.ADMIN}
# A cron/HTTP sweep looks only at the sessions that can have changed since the previous
# sweep when that one is less than INCREMENTAL_LIMIT behind and a full sweep started
# within FULL_SWEEP_INTERVAL (wall clock); otherwise it evaluates every session.
INCREMENTAL_LIMIT = timedelta(hours=6)
FULL_SWEEP_INTERVAL = timedelta(hours=1)

_hooks_suppressed = contextvars.ContextVar("ceol_hooks_suppressed", default=False)


class SweepFailed(Exception):
    """A fatal error (the database): nothing of the sweep was kept."""


def hooks_suppressed() -> bool:
    """True while the sweep itself writes, so event hooks do not re-enter it."""
    return _hooks_suppressed.get()


@contextmanager
def suppress_hooks() -> Iterator[None]:
    token = _hooks_suppressed.set(True)
    try:
        yield
    finally:
        _hooks_suppressed.reset(token)


def _scoped(queryset, field: str, ids: Collection[int] | None):
    return queryset if ids is None else queryset.filter(IdIn(field, ids))


def _invalid_timezone_errors(session_ids: Collection[int] | None) -> tuple[set[int], list[dict]]:
    rows = _scoped(Session.objects.exclude(TextIn("timezone", valid_timezone_names())), "id", session_ids)
    bad = list(rows.order_by().values_list("id", "timezone"))
    return {sid for sid, _ in bad}, [
        {"session_id": sid, "error": f"Invalid timezone {name!r}"} for sid, name in bad
    ]


def _expected_occurrences(session: Session, t: datetime, after: datetime, before: datetime) -> list[SessionInstance]:
    """Instances the recurrence calls for starting in ``[after, before)``, windows set,
    within the session's initiation and termination dates, window still open at ``t``."""
    starts = occurrence_starts(
        session.recurrence,
        anchor_date=session.anchor_date(),
        start_time=session.start_time,
        tz=session.zone,
        after=after,
        before=before,
    )
    expected = []
    for start in starts:
        local_date = start.date()
        if session.initiation_date and local_date < session.initiation_date:
            continue
        if session.termination_date and local_date > session.termination_date:
            continue
        instance = SessionInstance(
            session=session, date=local_date, start_time=session.start_time, end_time=session.end_time,
            auto_created=True,
        )
        instance.refresh_window()
        if instance.active_until is not None and instance.active_until > t:
            expected.append(instance)
    return expected


def _auto_create_for(session: Session, t: datetime) -> tuple[list[SessionInstance], int]:
    """Create the missing occurrences of one due session; returns (created, removed).

    After a restart of the horizon (a schedule change) future auto-created instances
    that no longer match and have no attendance are removed first.
    """
    if session.start_time is None or session.end_time is None:
        raise RecurrenceError("Missing start or end time")
    horizon_end = t + timedelta(hours=session.auto_create_hours_ahead)
    restart = session.auto_created_until is None
    after = t - MAX_WINDOW if restart else session.auto_created_until
    expected = _expected_occurrences(session, t, after, horizon_end)

    removed = 0
    if restart:
        stale = session.instances.filter(auto_created=True, starts_at__gt=t, attendances__isnull=True)
        last = stale.order_by("-starts_at").values_list("starts_at", flat=True).first()
        if last is not None:
            # By date: an instance edited by hand (another time) still stands for its date.
            still_wanted = {
                i.date for i in _expected_occurrences(session, t, t, max(last, horizon_end) + timedelta(seconds=1))
            }
            doomed = [i.pk for i in stale if i.date not in still_wanted]
            if doomed:
                with suppress_hooks():
                    removed, _ = SessionInstance.objects.filter(pk__in=doomed).delete()

    existing = session.instances.filter(date__in={i.date for i in expected}).values_list(
        "date", "start_time", "auto_created"
    )
    taken = {(d, s) for d, s, _ in existing} | {(d, "auto") for d, _, auto in existing if auto}
    missing = [i for i in expected if (i.date, i.start_time) not in taken and (i.date, "auto") not in taken]
    SessionInstance.objects.bulk_create(missing)

    upcoming = _expected_occurrences(session, t, horizon_end, horizon_end + NEXT_OCCURRENCE_SEARCH)
    due_at = (
        upcoming[0].starts_at - timedelta(hours=session.auto_create_hours_ahead)
        if upcoming
        else horizon_end + NEXT_OCCURRENCE_SEARCH
    )
    Session.objects.filter(pk=session.pk).update(auto_created_until=horizon_end, auto_create_due_at=due_at)
    return missing, removed


def _due_sessions(t: datetime, session_ids) -> list[Session]:
    """Sessions whose auto-create horizon is behind at ``t``, with their rules parsed.

    A schedule change stamps ``auto_create_due_at`` with ``DUE_AT_ONCE``, before any
    ``t``, so a simulated time earlier than the wall clock still finds it due. The rules are read as text and parsed per session, so that one unparsable value is
    that session's error instead of failing the query that loads them all.
    """
    due = _scoped(
        Session.objects.filter(auto_create_instances=True)
        .filter(auto_create_due_at__lte=t)
        .defer("recurrence")
        .annotate(recurrence_text=Cast("recurrence", TextField())),
        "id",
        session_ids,
    ).order_by("id")
    return list(due)


def _parse_rules(session: Session) -> None:
    try:
        session.recurrence = recurrence_lib.deserialize(session.recurrence_text or "")
    except (recurrence_lib.exceptions.DeserializationError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise RecurrenceError(f"Unparsable recurrence: {exc}") from exc


def _auto_create(t: datetime, session_ids, skip: set[int], errors: list[dict]) -> list[dict]:
    report = []
    for session in _due_sessions(t, session_ids):
        if session.pk in skip:
            continue
        try:
            _parse_rules(session)
            with transaction.atomic():
                created, _removed = _auto_create_for(session, t)
        except RecurrenceError as exc:
            errors.append({"session_id": session.pk, "error": str(exc)})
            continue
        if created:
            report.append({
                "session_id": session.pk,
                "session_name": session.name,
                "instances_created": len(created),
                "dates": [i.date.isoformat() for i in created],
                "instance_ids": [i.pk for i in created],
            })
    return report


def _apply_activation(t: datetime, session_ids, invalid: set[int]) -> tuple[list[dict], list[dict]]:
    """Deactivate what no longer qualifies, then activate each session's winner.

    Four statements whatever the number of sessions: the instances to activate (winners
    that are not active yet), the instances to deactivate (active ones that are not
    winners), and two updates. The winner of a session is its qualifying instance with
    the latest ``starts_at``, then the higher id; the database ranks them and returns only
    the changes, so a steady sweep fetches nothing. Deactivating first keeps the
    one-active-per-session constraint true at every statement.
    """
    qualifying = _scoped(SessionInstance.objects.qualifying_at(t), "session_id", session_ids)
    if invalid:
        qualifying = qualifying.exclude(IdIn("session_id", invalid))
    winners = (
        qualifying.annotate(
            rank=Window(RowNumber(), partition_by=F("session_id"), order_by=[F("starts_at").desc(), F("id").desc()])
        )
        .filter(rank=1)
        .values("pk")
    )
    columns = ("id", "session_id", "session__name")
    to_activate = list(SessionInstance.objects.filter(pk__in=winners, is_active=False).values_list(*columns))
    to_deactivate = list(
        _scoped(SessionInstance.objects.active(), "session_id", session_ids).exclude(pk__in=winners)
        .values_list(*columns)
    )
    if to_deactivate:
        SessionInstance.objects.filter(IdIn("id", [pk for pk, _, _ in to_deactivate])).update(is_active=False)
    if to_activate:
        SessionInstance.objects.filter(IdIn("id", [pk for pk, _, _ in to_activate])).update(is_active=True)

    def describe(rows):
        return [{"session_id": sid, "instance_id": pk, "session_name": name} for pk, sid, name in sorted(rows)]

    return describe(to_activate), describe(to_deactivate)


def _sessions_active_after_termination() -> set[int]:
    """Sessions with an active instance dated after their termination date.

    Two small reads instead of one join: the sessions that have a termination date, then
    their active instances through the one-active-per-session index. A join lets the
    planner start from every active instance when its statistics lag behind a busy sweep.
    """
    ends = dict(Session.objects.filter(termination_date__isnull=False).order_by().values_list("id", "termination_date"))
    if not ends:
        return set()
    active = SessionInstance.objects.active().filter(IdIn("session_id", ends)).values_list("session_id", "date")
    return {session_id for session_id, on in active if on > ends[session_id]}


def _sessions_that_may_change(t: datetime, since: datetime, invalid: set[int], created: list[dict]) -> set[int]:
    """The sessions whose active instance can differ at ``t`` from the previous sweep's,
    which evaluated ``since`` (``since <= t``, recent: see ``_incremental_since``).

    Since then, the answer changes only where a window opened (``active_from`` passed),
    where an active instance stopped qualifying (its window closed, or its data changed in
    any way), where instances were just auto-created, and for sessions with an invalid
    timezone. Every write through the models re-evaluated its session at once (the hooks).
    Three index scans, over the active instances, the sessions with a termination date and
    the windows opened since, none of which reads every session.
    """
    stale = SessionInstance.objects.active_not_qualifying_at(t).values_list("session_id", flat=True)
    terminated = _sessions_active_after_termination()
    opened = SessionInstance.objects.opening_between(since, t).values_list("session_id", flat=True).distinct()
    return {*stale, *terminated, *opened, *invalid, *(entry["session_id"] for entry in created)}


def _incremental_since(t: datetime, started_at: datetime) -> datetime | None:
    """The instant a cron/HTTP sweep at ``t`` may sweep incrementally from, or ``None`` for
    a full sweep: there is no earlier sweep, it evaluated a later instant (a simulated
    future), it is ``INCREMENTAL_LIMIT`` or more behind (missed runs), or no full sweep
    started within ``FULL_SWEEP_INTERVAL`` of wall-clock time. The regular full sweep
    catches what the hooks could not see: rows written without the models (raw SQL,
    ``QuerySet.update()``), a hook that failed, or a hand-set ``is_active`` to revert.
    """
    recorded = SweepRun.objects.filter(
        trigger__in=[SweepRun.Trigger.CRON, SweepRun.Trigger.HTTP],
        status__in=[SweepRun.Status.OK, SweepRun.Status.PARTIAL],
    ).order_by("-started_at", "-pk")
    previous = recorded.values_list("evaluated_at", flat=True).first()
    if previous is None or previous > t or t - previous >= INCREMENTAL_LIMIT:
        return None
    last_full = recorded.filter(full=True).values_list("started_at", flat=True).first()
    if last_full is None or started_at - last_full >= FULL_SWEEP_INTERVAL:
        return None
    return previous


def _evaluate(
    t: datetime, *, session_ids: Collection[int] | None, person_ids: Collection[int],
    incremental_since: datetime | None = None,
) -> dict:
    errors: list[dict] = []
    invalid, tz_errors = _invalid_timezone_errors(session_ids)
    errors.extend(tz_errors)
    created, activated, deactivated = [], [], []
    if session_ids is None or session_ids:
        created = _auto_create(t, session_ids, invalid, errors)
        scope = session_ids
        if session_ids is None and incremental_since is not None:
            scope = _sessions_that_may_change(t, incremental_since, invalid, created)
        if scope is None or scope:
            activated, deactivated = _apply_activation(t, scope, invalid)
    moved = relocate_people(
        activated_ids=[a["instance_id"] for a in activated],
        deactivated_ids=[d["instance_id"] for d in deactivated],
        person_ids=person_ids,
        repair_all=session_ids is None and incremental_since is None,
    )
    return {
        "evaluated_at": t.isoformat(),
        "activated": activated,
        "deactivated": deactivated,
        "auto_created": created,
        "people_moved": moved,
        "errors": errors,
    }


def _forget_rolled_back_ids(result: dict) -> None:
    """In a dry run, would-be-created instances were rolled back: name them ``None``."""
    phantom = {pk for entry in result["auto_created"] for pk in entry["instance_ids"]}
    for entry in result["auto_created"]:
        entry["instance_ids"] = [None] * len(entry["instance_ids"])
    for entry in result["activated"]:
        if entry["instance_id"] in phantom:
            entry["instance_id"] = None


def _record_run(
    result: dict, *, started_at: datetime, t: datetime, simulated: bool, trigger: str, full: bool
) -> None:
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
        full=full,
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _record_failure(*, started_at: datetime, t: datetime, simulated: bool, trigger: str, message: str) -> None:
    """Write a ``failed`` row after the rollback, when the database is reachable at all."""
    try:
        with transaction.atomic():
            SweepRun.objects.create(
                started_at=started_at, finished_at=clock.now(), evaluated_at=t, simulated=simulated,
                trigger=trigger, errors=[{"session_id": None, "error": message}], status=SweepRun.Status.FAILED,
            )
    except DatabaseError as exc:
        # Usually the database is down: the caller reports the failure itself.
        logger.info("Could not record the failed sweep: %s", _first_line(exc))


def evaluate(
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    trigger: str = SweepRun.Trigger.CRON,
    session_ids: Collection[int] | None = None,
    person_ids: Collection[int] = (),
    lookahead: timedelta | None = None,
    full: bool = False,
) -> dict:
    """Run one evaluation at ``t = now + lookahead``; see ``update_active_sessions``.

    ``session_ids`` limits auto-create and activation to those sessions (``None``: all;
    empty: none, for a person-only re-evaluation); ``person_ids`` are re-placed as well
    as the people the activation changes affect.
    """
    started_at = clock.now()
    simulated = now is not None
    t = clock.evaluation_instant(now, lookahead_=lookahead)
    full_sweep = trigger in (SweepRun.Trigger.CRON, SweepRun.Trigger.HTTP)
    try:
        with transaction.atomic():
            if not lock_live_state(wait=trigger in WAITING_TRIGGERS):
                return {"evaluated_at": t.isoformat(), "skipped": "another sweep is running", "activated": [],
                        "deactivated": [], "auto_created": [], "people_moved": [], "errors": []}
            if full_sweep and recompute_windows_if_tz_database_changed(now=min(t, started_at)):
                full = True  # windows moved under a new tz database: evaluate every session
            since = None
            if full_sweep and session_ids is None and not full:
                since = _incremental_since(t, started_at)
            result = _evaluate(t, session_ids=session_ids, person_ids=person_ids, incremental_since=since)
            changed = any(result[k] for k in ("activated", "deactivated", "auto_created", "people_moved"))
            if dry_run:
                transaction.set_rollback(True)
                _forget_rolled_back_ids(result)
            elif full_sweep or changed:
                _record_run(result, started_at=started_at, t=t, simulated=simulated, trigger=trigger,
                            full=session_ids is None and since is None)
                if full_sweep:
                    SweepRun.objects.filter(started_at__lt=started_at - SWEEP_RUN_RETENTION).delete()
    except DatabaseError as exc:
        # Not logged here: each caller reports it once (the command as its one error
        # line, the admin as a message, the hooks through Django's on_commit logging).
        message = f"Database error: {_first_line(exc)}"
        if not dry_run:
            _record_failure(started_at=started_at, t=t, simulated=simulated, trigger=trigger, message=message)
        raise SweepFailed(message) from exc
    for entry in result["errors"]:
        # Reported to the caller (command output, API body, SweepRun row); INFO avoids saying it twice.
        logger.info("Session %s skipped: %s", entry["session_id"], entry["error"])
    return result


def update_active_sessions(
    now: datetime | None = None, *, dry_run: bool = False, trigger: str = "cron", full: bool = False
) -> dict:
    """The sweep: auto-create, then activate/deactivate, then re-place people, at
    ``t = now + ACTIVE_SESSION_LOOKAHEAD`` (``now`` defaults to the clock).

    Returns the dict of SPEC section 4 (plus ``"skipped"`` when another cron/HTTP sweep
    holds the lock). One transaction: a failure leaves nothing half-done, records a
    ``failed`` SweepRun when the database is reachable and raises ``SweepFailed`` with a
    one-line message, which the caller reports (it is not logged here).
    ``dry_run`` computes everything and rolls it back.

    A sweep within hours of the previous one evaluates only the sessions that can have
    changed since (``_incremental_since``); at least once an hour, and with ``full=True``,
    it evaluates every session.
    """
    return evaluate(now, dry_run=dry_run, trigger=trigger, full=full)


def auto_create_scheduled_instances(now: datetime | None = None, *, dry_run: bool = False) -> dict:
    """Only the auto-create step of the sweep, in its own transaction; same return shape."""
    t = clock.evaluation_instant(now)
    errors: list[dict] = []
    with transaction.atomic():
        lock_live_state(wait=True)
        invalid, tz_errors = _invalid_timezone_errors(None)
        errors.extend(tz_errors)
        created = _auto_create(t, None, invalid, errors)
        result = {"evaluated_at": t.isoformat(), "activated": [], "deactivated": [], "auto_created": created,
                  "people_moved": [], "errors": errors}
        if dry_run:
            transaction.set_rollback(True)
            _forget_rolled_back_ids(result)
    return result


def reevaluate_session(session_id: int, *, trigger: str = SweepRun.Trigger.EVENT, person_ids=()) -> dict:
    """Event hook entry point: one session now, waiting for the lock."""
    return evaluate(trigger=trigger, session_ids=[session_id], person_ids=person_ids)


def reevaluate_people(person_ids: Collection[int]) -> dict:
    """Event hook entry point: re-place these people now (an answer changed)."""
    return evaluate(trigger=SweepRun.Trigger.EVENT, session_ids=(), person_ids=person_ids)


def reevaluate_people_of_instance(instance_id: int) -> dict:
    """Event hook entry point after a hand-set ``is_active`` (SPEC 3.7): leave activation
    to the next evaluation, but keep people consistent with it now (off an instance set
    inactive, onto one set active where they answered yes and are nowhere else)."""
    return reevaluate_people(people_concerned_by(instance_id))
