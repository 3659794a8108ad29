"""The sweep's first step: create the missing occurrences of sessions whose auto-create
horizon is behind (SPEC section 4, "Auto-create").

A session is due when ``auto_create_due_at`` is NULL or not after ``t``: NULL is what a
session inserted by ``loaddata``, ``bulk_create`` or SQL has, and what a schedule change
writes, so such a session is expanded at the next sweep whatever its ``t`` (a simulated
time in 1990 included). ``auto_created_until`` NULL means "restart the horizon at ``t``".
Runs inside the sweep's transaction, under its lock; never reads the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from sessions_app.db import IdIn
from sessions_app.hooks import suppress_hooks
from sessions_app.models import Session, SessionInstance, SessionSchedule
from sessions_app.occurrences import RecurrenceError, occurrence_starts, parse_rules
from sessions_app.windows import MAX_WINDOW

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from sessions_app.models import SlotText

# How far past the horizon to look for the next occurrence when scheduling the next
# auto-create; a session with none in that span is looked at again after it.
NEXT_OCCURRENCE_SEARCH = timedelta(days=400)


@dataclass
class Slot:
    """One regular time slot of a session: the main slot (``schedule_id`` None: the
    session's own rules and times) or a ``SessionSchedule``."""

    schedule_id: int | None
    rules: object
    start_time: time | None
    end_time: time | None


def _expected_occurrences(
    session: Session, slot: Slot, t: datetime, after: datetime, before: datetime
) -> list[SessionInstance]:
    """Instances ``slot`` calls for starting in ``[after, before)``, windows set,
    within the session's initiation and termination dates, window still open at ``t``."""
    # Both are known for every slot that reaches here (``session_slots`` and the
    # sweep's timezone check); an error rather than a crash should that change.
    tz = session.zone
    if slot.start_time is None:
        raise RecurrenceError("Missing start or end time")
    if tz is None:
        raise RecurrenceError(session.timezone_error)
    starts = occurrence_starts(
        slot.rules,
        anchor_date=session.anchor_date(),
        start_time=slot.start_time,
        tz=tz,
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
            session=session,
            date=local_date,
            start_time=slot.start_time,
            end_time=slot.end_time,
            auto_created=True,
            schedule_id=slot.schedule_id,
        )
        instance.refresh_window()
        if instance.active_until is not None and instance.active_until > t:
            expected.append(instance)
    return expected


def _remove_stale(
    session: Session, slots: list[Slot], broken: set[int | None], t: datetime, horizon_end: datetime
) -> int:
    """After a restart of the horizon (a schedule change): future auto-created instances
    that no longer match their slot and have no attendance go. Per slot and by date: an
    instance edited by hand (another time) still stands for its slot's date. Instances of a
    slot whose rules cannot be read (``broken``) are left alone."""
    stale = list(session.instances.filter(auto_created=True, starts_at__gt=t, attendances__isnull=True))
    if not stale:
        return 0
    until = max([*(i.starts_at for i in stale if i.starts_at is not None), horizon_end]) + timedelta(seconds=1)
    still_wanted = {
        slot.schedule_id: {i.date for i in _expected_occurrences(session, slot, t, t, until)} for slot in slots
    }
    doomed = [i.pk for i in stale if i.schedule_id not in broken and i.date not in still_wanted.get(i.schedule_id, ())]
    if not doomed:
        return 0
    with suppress_hooks():
        removed, _ = SessionInstance.objects.filter(pk__in=doomed).delete()
    return removed


def _create_for(
    session: Session, slots: list[Slot], broken: set[int | None], t: datetime, errors: list[dict]
) -> list[SessionInstance]:
    """Create the missing occurrences of one due session's slots and move its horizon on.

    A slot that cannot be expanded is that slot's error (appended to ``errors``); the
    other slots still run. Slots are taken in order (the main slot first): where two of
    them start at the same time on one date, the first has it (unique session, date and
    start time).
    """
    horizon_end = t + timedelta(hours=session.auto_create_hours_ahead)
    restart = session.auto_created_until is None
    after = t - MAX_WINDOW if session.auto_created_until is None else session.auto_created_until
    expected: list[SessionInstance] = []
    upcoming_starts: list[datetime] = []
    usable = []
    failures = []
    for slot in slots:
        try:
            expected += _expected_occurrences(session, slot, t, after, horizon_end)
            upcoming = _expected_occurrences(session, slot, t, horizon_end, horizon_end + NEXT_OCCURRENCE_SEARCH)
        except RecurrenceError as exc:
            failures.append((slot, exc))
            continue
        usable.append(slot)
        # Expected instances have a window, so a start.
        if upcoming and upcoming[0].starts_at is not None:
            upcoming_starts.append(upcoming[0].starts_at)
    if failures and not usable:
        # Nothing of this session can be expanded: it stays due, its error is reported
        # at every sweep (a session without further slots behaves as it always did).
        raise failures[0][1]
    for slot, failure in failures:
        broken.add(slot.schedule_id)
        errors.append(_slot_error(session, slot, failure))
    if restart:
        _remove_stale(session, usable, broken, t, horizon_end)

    existing = session.instances.filter(date__in={i.date for i in expected}).values_list(
        "date", "start_time", "auto_created", "schedule_id"
    )
    taken_times = {(d, s) for d, s, _, _ in existing}
    taken_slot_dates: set[tuple[date, int | None]] = {(d, slot) for d, _, auto, slot in existing if auto}
    missing = []
    for instance in expected:
        if (instance.date, instance.start_time) in taken_times:
            continue
        if (instance.date, instance.schedule_id) in taken_slot_dates:
            continue
        missing.append(instance)
        taken_times.add((instance.date, instance.start_time))
        taken_slot_dates.add((instance.date, instance.schedule_id))
    SessionInstance.objects.bulk_create(missing)

    due_at = (
        min(upcoming_starts) - timedelta(hours=session.auto_create_hours_ahead)
        if upcoming_starts
        else horizon_end + NEXT_OCCURRENCE_SEARCH
    )
    Session.objects.filter(pk=session.pk).update(auto_created_until=horizon_end, auto_create_due_at=due_at)
    return missing


def _slot_error(session: Session, slot: Slot, exc: Exception) -> dict:
    if slot.schedule_id is None:
        return {"session_id": session.pk, "error": str(exc)}
    return {"session_id": session.pk, "schedule_id": slot.schedule_id, "error": f"Time slot {slot.schedule_id}: {exc}"}


class RecurrenceText(TypedDict):
    recurrence_text: str | None


def due_sessions(t: datetime, *, session_ids: Collection[int] | None) -> list[WithAnnotations[Session, RecurrenceText]]:
    """Sessions with ``auto_create_instances`` whose horizon is due at ``t`` (NULL or any
    marker not after ``t``), limited to ``session_ids`` unless that is ``None``.

    The rules are read as text and parsed per session, so that one unparsable value is
    that session's error instead of failing the query that loads them all.
    """
    due = (
        Session.objects.filter(auto_create_instances=True)
        .filter(Q(auto_create_due_at__isnull=True) | Q(auto_create_due_at__lte=t))
        .defer("recurrence")
        .annotate(recurrence_text=Cast("recurrence", TextField()))
        .order_by("id")
    )
    if session_ids is not None:
        due = due.filter(IdIn("id", session_ids))
    return list(due)


def _parse_rules(session: WithAnnotations[Session, RecurrenceText]) -> None:
    session.recurrence = parse_rules(session.recurrence_text or "")


def session_slots(
    session: WithAnnotations[Session, RecurrenceText], schedules: Sequence[SlotText], errors: list[dict]
) -> list[Slot]:
    """The slots of a due session, main first; a further slot whose rules cannot be read
    is reported in ``errors`` and left out. Raises ``RecurrenceError`` for the main slot
    (unreadable rules, or no times) only when the session has no further slot; with
    further slots, a main slot without rules and times is simply absent."""
    slots = []
    for schedule in schedules:
        try:
            rules = parse_rules(schedule.rules_text or "")
        except RecurrenceError as exc:
            errors.append(_slot_error(session, Slot(schedule.pk, None, None, None), exc))
            continue
        slots.append(Slot(schedule.pk, rules, schedule.start_time, schedule.end_time))
    try:
        _parse_rules(session)
        if session.start_time is None or session.end_time is None:
            if schedules and not session.recurrence:
                return slots
            raise RecurrenceError("Missing start or end time")
    except RecurrenceError as exc:
        if not schedules:
            raise
        errors.append(_slot_error(session, Slot(None, None, None, None), exc))
        return slots
    return [Slot(None, session.recurrence, session.start_time, session.end_time), *slots]


def auto_create(
    t: datetime, *, session_ids: Collection[int] | None, skip: Collection[int], errors: list[dict]
) -> list[dict]:
    """Create every missing occurrence due at ``t`` (SPEC section 4) for all sessions
    (``session_ids=None``) or those listed, except ``skip`` (invalid timezones).

    Per-session problems (unparsable or unsupported rules, missing times) are appended to
    ``errors`` and that session is skipped; a further slot's problem is that slot's error,
    and the session's other slots still run; each session runs in a savepoint so a failure
    leaves nothing of it half-done. Returns the ``auto_created`` entries of the report.
    """
    report = []
    due = due_sessions(t, session_ids=session_ids)
    schedules = SessionSchedule.objects.as_text_by_session([session.pk for session in due]) if due else {}
    for session in due:
        if session.pk in skip:
            continue
        slot_errors: list[dict] = []
        try:
            slots = session_slots(session, schedules.get(session.pk, []), slot_errors)
            if not slots:
                errors.extend(slot_errors)
                continue
            with transaction.atomic():
                created = _create_for(session, slots, {e.get("schedule_id") for e in slot_errors}, t, slot_errors)
        except RecurrenceError as exc:
            errors.extend(slot_errors)
            errors.append({"session_id": session.pk, "error": str(exc)})
            continue
        errors.extend(slot_errors)
        if created:
            report.append(
                {
                    "session_id": session.pk,
                    "session_name": session.name,
                    "instances_created": len(created),
                    "dates": [i.date.isoformat() for i in created],
                    "instance_ids": [i.pk for i in created],
                }
            )
    return report
