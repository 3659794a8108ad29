"""What a person does on the site: answer for an instance, check in ("I'm here"), and
leave ("I've left"), and find the other live sessions nearby (SPEC 3.5-3.6).

The answer itself is written here; re-placing the person follows through the same
evaluation the sweep uses (the attendance hook, on commit), so pages, API and admin
all obey one rule.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from people.location import relocate_people
from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.active_sessions import reevaluate
from sessions_app.locks import lock_live_state
from sessions_app.models import SessionInstance


def person_for_user(user) -> Person:
    """The user's Person, created from the account when it has none (sign-up, or an
    account made in the admin), with a private calendar token."""
    person, _ = Person.objects.get_or_create(
        user=user,
        defaults={
            "first_name": user.first_name or user.get_username(),
            "last_name": user.last_name,
            "email": user.email,
            "calendar_token": Person.new_calendar_token(),
        },
    )
    if not person.calendar_token:
        person.renew_calendar_token()
    return person


class AttendanceRefused(Exception):
    """The answer cannot be recorded; ``str()`` is a message for the person."""


def _locked(instance: SessionInstance) -> SessionInstance:
    """Take the live-state lock, then re-read the instance: what a writer decides on is
    what it sees under the lock (a deletion or cancellation that committed first wins)."""
    lock_live_state(wait=True)
    try:
        return SessionInstance.objects.select_related("session").get(pk=instance.pk)
    except SessionInstance.DoesNotExist:
        raise AttendanceRefused("This session instance no longer exists.") from None


def _evaluate_now(instance: SessionInstance, person: Person) -> None:
    """Evaluate the instance's session and the person now, in this transaction: a window
    that opened since the last sweep goes live at once, and the person is placed by the
    rule (SPEC 3.5: the answer takes effect at once, not at the next cron run)."""
    reevaluate(session_ids=[instance.session_id], person_ids=[person.pk])
    instance.refresh_from_db(fields=["is_active"])


def answer(*, person: Person, instance: SessionInstance, status: str) -> Attendance:
    """Record yes / maybe / no for one instance.

    Changing ``yes`` to ``maybe`` or ``no`` moves the person off the instance at once;
    a ``yes`` on a live instance places them there if they are nowhere else. A
    cancelled instance takes no ``yes``.
    """
    if status not in Attendance.Status.values:
        raise AttendanceRefused(f"Unknown answer {status!r}: use yes, maybe or no.")
    with transaction.atomic():
        instance = _locked(instance)
        if status == Attendance.Status.YES and instance.is_cancelled:
            raise AttendanceRefused("This session instance is cancelled.")
        attendance, created = Attendance.objects.get_or_create(
            person=person, session_instance=instance, defaults={"status": status}
        )
        if not created and attendance.status != status:
            attendance.status = status
            attendance.save(update_fields=["status"])
        _evaluate_now(instance, person)
    return attendance


# "I'm here" is accepted from this long before an instance starts (on the day, before its
# window opens, the yes is recorded and the move happens when it activates).
CHECK_IN_AHEAD = timedelta(days=1)


def check_in_refusal(instance: SessionInstance, now) -> str | None:
    """Why "I'm here" is refused now, or ``None`` when it is accepted: the one rule the
    service applies and the instance page follows to show the button (SPEC 3.5)."""
    if instance.is_cancelled:
        return "This session instance is cancelled: you cannot check in."
    if instance.active_until is not None and instance.active_until <= now:
        return "This session instance has ended: you cannot check in any more."
    if instance.starts_at is not None and instance.starts_at > now + CHECK_IN_AHEAD:
        return "This session instance starts more than a day from now: answer \u201cGoing\u201d instead."
    return None


def answer_refusal(instance: SessionInstance, now) -> str | None:
    """Why answers are refused now (cancelled, or ended), or ``None``."""
    state = instance.state_at(now)
    if state == SessionInstance.State.CANCELLED:
        return "This session instance is cancelled: there is nothing to answer."
    if state == SessionInstance.State.ENDED:
        return "This session instance has ended."
    return None


def may_leave(instance: SessionInstance, attendance: Attendance | None) -> bool:
    """ "I've left" makes sense while the instance is live and the person is there by
    their answer (``yes``, not left)."""
    return (
        instance.is_active
        and attendance is not None
        and attendance.status == Attendance.Status.YES
        and attendance.left_at is None
    )


def check_in(*, person: Person, instance: SessionInstance) -> Attendance:
    """ "I'm here": answer yes (now) and, if the instance is live, move there at once.

    On an instance that is not live yet the yes is recorded and the move happens when it
    activates. A check-in elsewhere sticks: the stay-put rule keeps the person there, and
    a check-in clears an earlier "I've left". Refuses a cancelled instance, one whose
    window has closed, and one that starts more than a day from now (SPEC 3.5).
    """
    now = clock.now()
    with transaction.atomic():
        instance = _locked(instance)
        refusal = check_in_refusal(instance, now)
        if refusal:
            raise AttendanceRefused(refusal)
        attendance, created = Attendance.objects.get_or_create(
            person=person, session_instance=instance, defaults={"status": Attendance.Status.YES}
        )
        if not created:
            attendance.status = Attendance.Status.YES
            attendance.checked_in_at = now
            attendance.left_at = None
            attendance.save(update_fields=["status", "checked_in_at", "left_at"])
        _evaluate_now(instance, person)
        if instance.is_active:
            Person.objects.filter(pk=person.pk).update(at_active_session_instance=instance)
            person.at_active_session_instance = instance
    return attendance


def leave(*, person: Person, instance: SessionInstance) -> Attendance:
    """ "I've left": off this live instance at once (re-placed elsewhere by the person
    rule), the ``yes`` kept, and not placed here again until a new check-in.

    Refuses when the instance is not live or the person has no ``yes`` for it.
    """
    now = clock.now()
    with transaction.atomic():
        instance = _locked(instance)
        if not instance.is_active:
            raise AttendanceRefused("This session instance is not live: there is nothing to leave.")
        attendance = Attendance.objects.filter(
            person=person, session_instance=instance, status=Attendance.Status.YES
        ).first()
        if attendance is None:
            raise AttendanceRefused("You are not checked in here.")
        if attendance.left_at is None:
            attendance.left_at = now
            attendance.save(update_fields=["left_at"])
        # Off at once, in this transaction (the hook's on-commit re-evaluation agrees).
        relocate_people(person_ids=[person.pk])
    return attendance


def live_nearby(instance: SessionInstance, *, limit: int) -> tuple[list[SessionInstance], bool]:
    """The other live instances in the instance's city and country (city compared by
    ``city_key``), soonest first, with their sessions: at most ``limit``, and whether
    there are (or may be) more. The rule is ``SessionInstance.objects.live_in_city``."""
    session = instance.session
    found, more = SessionInstance.objects.live_in_city(city=session.city, country=session.country, limit=limit + 1)
    others = [other for other in found if other.pk != instance.pk]
    return others[:limit], more or len(others) > limit


def people_at(instance: SessionInstance, *, viewer=None):
    """The people at a live instance whom ``viewer`` may see: the one privacy rule
    (``people.models.location_visible_q``), here for callers that hold an instance."""
    return Person.objects.here_now(instance.pk, viewer)
