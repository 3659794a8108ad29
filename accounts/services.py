"""Account workflows that span the user and the Person: create the Person of a new
account, keep its email in step, delete an account with everything that is the person's.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q

from people.models import Attendance, Person
from sessions_app.locks import lock_live_state


def copy_email_to_person(*, user, email: str) -> None:
    Person.objects.filter(user=user).update(email=email)


def delete_account(*, user) -> None:
    """Delete the account, its Person and the person's answers; nothing else changes.

    The live-state lock comes first (every writer of a person's location takes it): the
    person vanishes from "here now" and every list at once, and the attendance hooks'
    re-evaluation finds nobody to move. allauth's email addresses and the user's login
    sessions go with the user (a logged-in browser elsewhere is anonymous at its next
    request).
    """
    with transaction.atomic():
        lock_live_state(wait=True)
        Person.objects.filter(user=user).delete()  # cascades to the person's Attendance rows
        user.delete()


UPCOMING_SHOWN = 50
HISTORY_SHOWN = 20


def my_sessions(*, person: Person, now) -> tuple[list, list]:
    """The person's ``yes``/``maybe`` answers: upcoming (the live instance first, then by
    start) and recent history (ended, newest first). Two queries, bounded lists.

    An instance without known times counts as upcoming through its local date (compared
    with the UTC date: a day's slack either way, as its hours are unknown).
    """
    answers = Attendance.objects.filter(
        person=person, status__in=[Attendance.Status.YES, Attendance.Status.MAYBE]
    ).select_related("session_instance__session")
    still_on = Q(session_instance__ends_at__gt=now) | Q(
        session_instance__ends_at__isnull=True, session_instance__date__gte=now.date()
    )
    upcoming = answers.filter(still_on).order_by(
        F("session_instance__is_active").desc(),
        F("session_instance__starts_at").asc(nulls_last=True),
        "session_instance__date",
        "session_instance__pk",
    )[:UPCOMING_SHOWN]
    history = answers.exclude(still_on).order_by(
        F("session_instance__starts_at").desc(nulls_last=True), "-session_instance__date", "-session_instance__pk"
    )[:HISTORY_SHOWN]
    return list(upcoming), list(history)
