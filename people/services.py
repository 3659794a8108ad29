"""What a person does on the site: answer for an instance, check in ("I'm here"), and
find the other live sessions nearby (SPEC 3.5-3.6).

The answer itself is written here; re-placing the person follows through the same
evaluation the sweep uses (the attendance hook, on commit), so pages, API and admin
all obey one rule.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower, Trim

from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import SessionInstance


class AttendanceRefused(Exception):
    """The answer cannot be recorded; ``str()`` is a message for the person."""


def answer(*, person: Person, instance: SessionInstance, status: str) -> Attendance:
    """Record yes / maybe / no for one instance.

    Changing ``yes`` to ``maybe`` or ``no`` moves the person off the instance at once;
    a ``yes`` on a live instance places them there if they are nowhere else. A
    cancelled instance takes no ``yes``.
    """
    if status not in Attendance.Status.values:
        raise AttendanceRefused(f"Unknown answer {status!r}: use yes, maybe or no.")
    if status == Attendance.Status.YES and instance.is_cancelled:
        raise AttendanceRefused("This session instance is cancelled.")
    with transaction.atomic():
        attendance, created = Attendance.objects.get_or_create(
            person=person, session_instance=instance, defaults={"status": status}
        )
        if not created and attendance.status != status:
            attendance.status = status
            attendance.save(update_fields=["status"])
    return attendance


def check_in(*, person: Person, instance: SessionInstance) -> Attendance:
    """"I'm here": answer yes (now) and, if the instance is live, move there at once.

    On an instance that is not live yet the yes is recorded and the move happens when it
    activates. A check-in elsewhere sticks: the stay-put rule keeps the person there.
    Refuses a cancelled instance.
    """
    with transaction.atomic():
        instance = SessionInstance.objects.select_for_update().get(pk=instance.pk)
        if instance.is_cancelled:
            raise AttendanceRefused("This session instance is cancelled: you cannot check in.")
        attendance, created = Attendance.objects.get_or_create(
            person=person, session_instance=instance, defaults={"status": Attendance.Status.YES}
        )
        if not created:
            attendance.status = Attendance.Status.YES
            attendance.checked_in_at = clock.now()
            attendance.save(update_fields=["status", "checked_in_at"])
        if instance.is_active:
            Person.objects.filter(pk=person.pk).update(at_active_session_instance=instance)
            person.at_active_session_instance = instance
    return attendance


def live_nearby(instance: SessionInstance):
    """The other live instances in the same city and country (city compared trimmed and
    case-insensitively), soonest first."""
    session = instance.session
    return (
        SessionInstance.objects.active()
        .select_related("session")
        .annotate(city_key=Lower(Trim("session__city")))
        .filter(city_key=session.city.strip().lower(), session__country__iexact=session.country.strip())
        .exclude(pk=instance.pk)
        .order_by("starts_at", "pk")
    )


def people_at(instance: SessionInstance, *, viewer=None):
    """The people at a live instance whom ``viewer`` may see (sharing, or themselves, or staff)."""
    people = Person.objects.filter(at_active_session_instance=instance)
    if viewer is not None and getattr(viewer, "is_staff", False):
        return people
    own = Q(user=viewer) if viewer is not None and viewer.is_authenticated else Q(pk__in=[])
    return people.filter(Q(share_location=True) | own)
