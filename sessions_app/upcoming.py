"""What a session's page lists ahead: the next occurrences from its rules, created or
not, merged with the instances that exist (hand-made ones included).

One function (``next_occurrences``) so that further slots (``SessionSchedule``) join
here only. Matching an occurrence to an existing instance follows auto-create: the
same (date, start time), or an auto-created instance on that date (edited by hand to
another time, it still stands for its date) — so an instance created from this list
is never duplicated by a later sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q

from sessions_app.locks import lock_live_state
from sessions_app.models import Session, SessionInstance
from sessions_app.occurrences import RecurrenceError, occurrence_starts
from sessions_app.windows import MAX_WINDOW

OCCURRENCES_SHOWN = 8
# Dates an occurrence can be answered for (far from year 1 and 9999, where the window
# arithmetic overflows).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)
# Spans searched for the next occurrences, shortest first (a yearly session needs years).
SEARCH_SPANS = (timedelta(days=70), timedelta(days=400), timedelta(days=4 * 366))


@dataclass
class Occurrence:
    """One dated occurrence: ``instance`` is ``None`` while it has not been created."""

    session: Session
    date: date
    instance: SessionInstance | None

    @property
    def pending(self) -> SessionInstance:
        """The instance, or the unsaved one an answer would create (for its times)."""
        return self.instance or _unsaved(self.session, self.date)


def _unsaved(session: Session, on: date) -> SessionInstance:
    instance = SessionInstance(session=session, date=on, start_time=session.start_time, end_time=session.end_time,
                               auto_created=True)
    instance.refresh_window()
    return instance


def rule_dates(session: Session, *, after: datetime, before: datetime) -> list[date]:
    """Local dates the session's rules produce whose instance has not ended at ``after``
    (and starts before ``before``), within its initiation and termination dates. Empty
    when the session has no rules, no times, an invalid zone or rules that cannot be
    expanded (the page then lists created instances only)."""
    tz = session.zone
    if not session.recurrence or session.start_time is None or session.end_time is None or tz is None:
        return []
    try:
        starts = occurrence_starts(session.recurrence, anchor_date=session.anchor_date(), start_time=session.start_time,
                                   tz=tz, after=after - MAX_WINDOW, before=before)
    except (RecurrenceError, TypeError, ValueError, AttributeError):
        return []
    dates = []
    for start in starts:
        on = start.date()
        if session.initiation_date and on < session.initiation_date:
            continue
        if session.termination_date and on > session.termination_date:
            continue
        ends = _unsaved(session, on).ends_at
        if ends is not None and ends > after:
            dates.append(on)
    return dates


def _matches(instance: SessionInstance, session: Session, on: date) -> bool:
    return instance.date == on and (instance.start_time == session.start_time or instance.auto_created)


def next_occurrences(session: Session, *, now: datetime, count: int = OCCURRENCES_SHOWN) -> list[Occurrence]:
    """The next ``count`` occurrences that have not ended: from the rules (created or
    not) and the existing instances, soonest first. Two queries at most."""
    dates: list[date] = []
    for span in SEARCH_SPANS:
        dates = rule_dates(session, after=now, before=now + span)
        if len(dates) >= count:
            break
    dates = dates[:count]
    tz = session.zone
    today = now.astimezone(tz).date() if tz else now.date()
    not_ended = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=today)
    ahead = list(session.instances.filter(not_ended).order_by("date", "start_time", "pk")[:count])
    known = {i.pk for i in ahead}
    if dates:
        ahead += [i for i in session.instances.filter(date__in=dates).exclude(pk__in=known) if i.pk not in known]
    occurrences = [Occurrence(session, i.date, i) for i in ahead if i.ends_at is None or i.ends_at > now]
    created = [o.instance for o in occurrences]
    for on in dates:
        if not any(_matches(instance, session, on) for instance in created):
            occurrences.append(Occurrence(session, on, None))
    occurrences.sort(key=lambda o: (o.date, o.pending.start_time or datetime.min.time(), o.instance.pk if o.instance else 0))
    return occurrences[:count]


class NotAnOccurrence(Exception):
    """The date is not one the session's rules produce (or it has ended)."""


def instance_for_occurrence(session: Session, on: date, *, now: datetime) -> SessionInstance:
    """The instance of the occurrence on ``on``, created as auto-create would create it
    (``auto_created=True``, times copied from the session) when it does not exist yet.
    Raises ``NotAnOccurrence`` for a date the rules do not produce."""
    if not EARLIEST_DATE <= on <= LATEST_DATE:
        raise NotAnOccurrence(f"{on.isoformat()} is out of range.")
    day = datetime.combine(on, datetime.min.time(), tzinfo=session.zone) if session.zone else None
    if day is None or on not in rule_dates(session, after=max(now, day - timedelta(days=1)), before=day + timedelta(days=2)):
        raise NotAnOccurrence(f"{session.name} has no occurrence on {on.isoformat()}.")
    with transaction.atomic():
        lock_live_state(wait=True)
        for instance in session.instances.filter(date=on).order_by("pk"):
            if _matches(instance, session, on):
                return instance
        instance = _unsaved(session, on)
        instance.save()
    return instance
