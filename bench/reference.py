"""The per-session algorithm of ceol's first version, kept as the benchmark's yardstick.

For each session: compute the local ``now + lookahead`` in its zone, load its instances
from one day before to two days after that local date, compute their windows in Python,
save the rows whose flag changes one by one, and commit per session. Then the people
those changes affect (people at a deactivated instance, people who said yes to an
activated one) are re-placed one by one, one transaction per session's group.

One deliberate difference from the first version: people are re-placed after the
activation loop rather than inside it. Placing them session by session makes the result
depend on the order sessions are visited (a person who said yes to two instances that
open together would stay at whichever was visited first instead of the one that starts
first), so it could never end in the same state as the set-based sweep. The statement
count is the same either way.

Its limit, also kept from the first version: a flag left on an instance outside the
−1..+2 day range is never cleared. The benchmark's data never leaves one there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from django.db import transaction

from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import Session, SessionInstance
from sessions_app.windows import compute_window, zone


def _place_key(option: tuple) -> tuple:
    """Starts first (UTC), then most recent check-in, then higher instance id."""
    instance_id, starts_at, checked_in_at = option
    return (
        starts_at is None,
        starts_at.timestamp() if starts_at else 0,
        checked_in_at is None,
        -checked_in_at.timestamp() if checked_in_at else 0,
        -instance_id,
    )


def _winner(instances: list[tuple], session: tuple, t: datetime) -> int | None:
    """The instance that should be active: qualifying at ``t``, latest start, then higher id."""
    _, tz_name, termination_date, before, after = session
    try:
        tz = zone(tz_name)
    except ZoneInfoNotFoundError:
        return None
    best = None
    for pk, day, start_time, end_time, is_cancelled, _active in instances:
        if is_cancelled or (termination_date and day > termination_date):
            continue
        window = compute_window(
            local_date=day,
            start_time=start_time,
            end_time=end_time,
            tz=tz,
            buffer_before_minutes=before,
            buffer_after_minutes=after,
        )
        if window and window.active_from <= t < window.active_until:
            key = (window.starts_at, pk)
            if best is None or key > best:
                best = key
    return best[1] if best else None


def _sweep_session(session: tuple, t: datetime) -> tuple[list[int], list[int], list[int]]:
    """Bring one session's flags in line; returns (activated, deactivated, people affected)."""
    session_id, tz_name = session[0], session[1]
    try:
        local_day = t.astimezone(zone(tz_name)).date()
    except ZoneInfoNotFoundError:
        local_day = t.date()
    instances = list(
        SessionInstance.objects.filter(
            session_id=session_id,
            date__gte=local_day - timedelta(days=1),
            date__lte=local_day + timedelta(days=2),
        ).values_list("id", "date", "start_time", "end_time", "is_cancelled", "is_active")
    )
    winner = _winner(instances, session, t)
    deactivated = [row[0] for row in instances if row[5] and row[0] != winner]
    activated = [winner] if winner and not any(row[0] == winner and row[5] for row in instances) else []
    people: list[int] = []
    for pk in deactivated:  # before activating: one active instance per session
        SessionInstance.objects.filter(pk=pk).update(is_active=False)
        people.extend(Person.objects.filter(at_active_session_instance_id=pk).values_list("id", flat=True))
    for pk in activated:
        SessionInstance.objects.filter(pk=pk).update(is_active=True)
        people.extend(
            Attendance.objects.filter(session_instance_id=pk, status=Attendance.Status.YES).values_list(
                "person_id", flat=True
            )
        )
    return activated, deactivated, people


def _place_person(person_id: int) -> dict | None:
    """Re-place one person by the rule of SPEC 3.4; returns the move, if any."""
    location = Person.objects.values_list("at_active_session_instance_id", flat=True).get(pk=person_id)
    # The activity test is done here rather than in SQL: filtering on is_active makes
    # PostgreSQL, whose statistics lag behind a busy flip, drive this lookup from every
    # active instance for every person (quadratic), which would flatter the project.
    options = [
        (instance_id, starts_at, checked_in_at)
        for instance_id, starts_at, checked_in_at, is_active in Attendance.objects.filter(
            person_id=person_id, status=Attendance.Status.YES
        ).values_list(
            "session_instance_id", "session_instance__starts_at", "checked_in_at", "session_instance__is_active"
        )
        if is_active
    ]
    if location is not None and any(option[0] == location for option in options):
        return None
    target = min(options, key=_place_key)[0] if options else None
    if target == location:
        return None
    Person.objects.filter(pk=person_id).update(at_active_session_instance_id=target)
    return {"person_id": person_id, "from_instance_id": location, "to_instance_id": target}


def reference_sweep(now: datetime) -> dict:
    """One per-session sweep at ``t = now + lookahead``; returns the changes it made."""
    t = clock.evaluation_instant(now)
    sessions = list(
        Session.objects.order_by("id").values_list(
            "id", "timezone", "termination_date", "active_buffer_minutes_before", "active_buffer_minutes_after"
        )
    )
    activated, deactivated, people_groups = [], [], []
    for session in sessions:
        with transaction.atomic():
            on, off, people = _sweep_session(session, t)
        activated += on
        deactivated += off
        if people:
            people_groups.append(people)
    moved, seen = [], set()
    for group in people_groups:
        todo = [pk for pk in dict.fromkeys(group) if pk not in seen]
        seen.update(todo)
        if not todo:
            continue
        with transaction.atomic():
            moved += [move for move in map(_place_person, todo) if move]
    return {"activated": activated, "deactivated": deactivated, "people_moved": moved}
