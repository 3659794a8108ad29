"""What a session's page lists ahead: the next occurrences from its rules, created or
not, merged with the instances that exist (hand-made ones included).

One function (``next_occurrences``) over every slot of the session: the main slot (its
own rules and times) and its further slots (``SessionSchedule``). Matching an occurrence
to an existing instance follows auto-create: the same (date, start time), or an
auto-created instance of that slot on that date (edited by hand to another time, it
still stands for its date) — so an instance created from this list is never duplicated
by a later sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q

from sessions_app.auto_create import Slot
from sessions_app.locks import lock_live_state
from sessions_app.models import Session, SessionInstance, SessionSchedule
from sessions_app.occurrences import RecurrenceError, occurrence_starts, parse_rules
from sessions_app.windows import MAX_WINDOW

if TYPE_CHECKING:
    from sessions_app.models import SlotText

OCCURRENCES_SHOWN = 8
# Dates an occurrence can be answered for (far from year 1 and 9999, where the window
# arithmetic overflows).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)
# Spans searched for the next occurrences, shortest first (a yearly session needs years).
SEARCH_SPANS = (timedelta(days=70), timedelta(days=400), timedelta(days=4 * 366))


def slots_for(session: Session, schedules: Sequence[SlotText] = ()) -> list[Slot]:
    """The session's slots, main first; ``schedules`` as read by
    ``SessionSchedule.objects.as_text_by_session`` (rules as text). A slot whose rules
    cannot be read is left out: the page lists what it can."""
    slots = [Slot(None, session.recurrence, session.start_time, session.end_time)]
    for schedule in schedules:
        try:
            rules = parse_rules(schedule.rules_text or "")
        except RecurrenceError:
            continue
        slots.append(Slot(schedule.pk, rules, schedule.start_time, schedule.end_time))
    return slots


@dataclass
class Occurrence:
    """One dated occurrence of a slot: ``instance`` is ``None`` while it has not been created."""

    session: Session
    date: date
    instance: SessionInstance | None
    slot: Slot | None = None

    @property
    def pending(self) -> SessionInstance:
        """The instance, or the unsaved one an answer would create (for its times)."""
        return self.instance or _unsaved(self.session, self.date, self.slot)


def _unsaved(session: Session, on: date, slot: Slot | None = None) -> SessionInstance:
    slot = slot or Slot(None, session.recurrence, session.start_time, session.end_time)
    instance = SessionInstance(
        session=session,
        date=on,
        start_time=slot.start_time,
        end_time=slot.end_time,
        schedule_id=slot.schedule_id,
        auto_created=True,
    )
    instance.refresh_window()
    return instance


def rule_dates(session: Session, *, after: datetime, before: datetime, slot: Slot | None = None) -> list[date]:
    """Local dates a slot's rules (the main slot's by default) produce whose instance has
    not ended at ``after`` (and starts before ``before``), within the session's initiation
    and termination dates. Empty when the slot has no rules or times, the zone is invalid
    or the rules cannot be expanded (the page then lists created instances only)."""
    return [pending.date for pending in _rule_instances(session, after=after, before=before, slot=slot)]


def _rule_instances(
    session: Session, *, after: datetime, before: datetime, slot: Slot | None = None
) -> list[SessionInstance]:
    """The unsaved instances (windows computed) of ``rule_dates``."""
    slot = slot or Slot(None, session.recurrence, session.start_time, session.end_time)
    tz = session.zone
    if not slot.rules or slot.start_time is None or slot.end_time is None or tz is None:
        return []
    try:
        starts = occurrence_starts(
            slot.rules,
            anchor_date=session.anchor_date(),
            start_time=slot.start_time,
            tz=tz,
            after=after - MAX_WINDOW,
            before=before,
        )
    except (RecurrenceError, TypeError, ValueError, AttributeError):
        return []
    pending = []
    for start in starts:
        on = start.date()
        if session.initiation_date and on < session.initiation_date:
            continue
        if session.termination_date and on > session.termination_date:
            continue
        instance = _unsaved(session, on, slot)
        if instance.ends_at is not None and instance.ends_at > after:
            pending.append(instance)
    return pending


def _matches(instance: SessionInstance, slot: Slot, on: date) -> bool:
    return instance.date == on and (
        instance.start_time == slot.start_time or (instance.auto_created and instance.schedule_id == slot.schedule_id)
    )


def next_occurrences(
    session: Session, *, now: datetime, count: int = OCCURRENCES_SHOWN, slots: Sequence[SlotText] = ()
) -> list[Occurrence]:
    """The next ``count`` occurrences of all the session's slots (``slots``: its further
    ones, as text) that have not ended: from the rules (created or not) and the existing
    instances, soonest first. Two queries at most."""
    dated: list[tuple[date, Slot]] = []
    for slot in slots_for(session, slots):
        for span in SEARCH_SPANS:
            found = rule_dates(session, after=now, before=now + span, slot=slot)
            if len(found) >= count:
                break
        dated += [(on, slot) for on in found[:count]]
    dated.sort(key=lambda pair: (pair[0], pair[1].start_time or datetime.min.time()))
    dated = dated[:count]
    tz = session.zone
    today = now.astimezone(tz).date() if tz else now.date()
    not_ended = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=today)
    ahead = list(session.instances.filter(not_ended).order_by("date", "start_time", "pk")[:count])
    known = {i.pk for i in ahead}
    if dated:
        wanted = {on for on, _ in dated}
        ahead += [i for i in session.instances.filter(date__in=wanted).exclude(pk__in=known) if i.pk not in known]
    created = [i for i in ahead if i.ends_at is None or i.ends_at > now]
    occurrences = [Occurrence(session, i.date, i) for i in created]
    for on, slot in dated:
        if not any(_matches(instance, slot, on) for instance in created):
            occurrences.append(Occurrence(session, on, None, slot))
    occurrences.sort(
        key=lambda o: (o.date, o.pending.start_time or datetime.min.time(), o.instance.pk if o.instance else 0)
    )
    return occurrences[:count]


def next_starts_from_rules(
    sessions: Sequence[Session], slots: Mapping[int, Sequence[SlotText]], *, now: datetime
) -> dict[int, datetime]:
    """For sessions that have no upcoming instance (a list's "Next:"): the start of the
    soonest occurrence of their slots' rules within ``SEARCH_SPANS[0]`` on a date that has
    no instance yet (a cancelled or rescheduled one takes its date out), by session id.
    One query for all of them, none when no rule gives a date."""
    candidates: dict[int, list[tuple[datetime, date]]] = {}
    for session in sessions:
        starts = []
        for slot in slots_for(session, slots.get(session.pk, ())):
            for pending in _rule_instances(session, after=now, before=now + SEARCH_SPANS[0], slot=slot)[
                :OCCURRENCES_SHOWN
            ]:
                if pending.starts_at is not None and pending.starts_at > now:
                    starts.append((pending.starts_at, pending.date))
        if starts:
            candidates[session.pk] = sorted(starts)
    if not candidates:
        return {}
    dates = {on for starts in candidates.values() for _, on in starts}
    taken = set(
        SessionInstance.objects.filter(session_id__in=list(candidates), date__in=dates).values_list(
            "session_id", "date"
        )
    )
    found = {}
    for session_id, starts in candidates.items():
        start = next((start for start, on in starts if (session_id, on) not in taken), None)
        if start is not None:
            found[session_id] = start
    return found


class NotAnOccurrence(Exception):
    """The date is not one the session's rules produce (or it has ended)."""


def instance_for_occurrence(
    session: Session, on: date, *, now: datetime, schedule_id: int | None = None
) -> SessionInstance:
    """The instance of the occurrence on ``on`` of a slot (``schedule_id``: a further slot
    of the session; None: the main one), created as auto-create would create it
    (``auto_created=True``, times copied from the slot) when it does not exist yet.
    Raises ``NotAnOccurrence`` for a date the slot's rules do not produce."""
    if not EARLIEST_DATE <= on <= LATEST_DATE:
        raise NotAnOccurrence(f"{on.isoformat()} is out of range.")
    schedules = []
    if schedule_id is not None:
        schedules = SessionSchedule.objects.as_text_by_session([session.pk]).get(session.pk, [])
    slot = next((s for s in slots_for(session, schedules) if s.schedule_id == schedule_id), None)
    day = datetime.combine(on, datetime.min.time(), tzinfo=session.zone) if session.zone else None
    if (
        slot is None
        or day is None
        or on
        not in rule_dates(session, after=max(now, day - timedelta(days=1)), before=day + timedelta(days=2), slot=slot)
    ):
        raise NotAnOccurrence(f"{session.name} has no occurrence on {on.isoformat()}.")
    with transaction.atomic():
        lock_live_state(wait=True)
        for instance in session.instances.filter(date=on).order_by("pk"):
            if _matches(instance, slot, on):
                return instance
        instance = _unsaved(session, on, slot)
        instance.save()
    return instance
