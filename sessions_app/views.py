"""Server-rendered pages: the session list, a session, one instance.

Thin: each view loads what its page shows in a fixed number of queries and calls the
person services (``people.services``) for who is where; the answer and check-in buttons
post to ``people.views``.
"""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Lower, Trim
from django.shortcuts import get_object_or_404, render

from people.models import Attendance
from people.services import live_nearby, people_at
from sessions_app import clock
from sessions_app.models import Session, SessionInstance

UPCOMING_SHOWN = 10
PAST_SHOWN = 5


def _with_live_and_next(sessions, now):
    """Annotate each session with its active instance id and its next start (one query)."""
    live = SessionInstance.objects.filter(session=OuterRef("pk"), is_active=True).values("pk")[:1]
    upcoming = (
        SessionInstance.objects.filter(session=OuterRef("pk"), starts_at__gt=now, is_cancelled=False)
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    return sessions.annotate(live_instance_id=Subquery(live), next_starts_at=Subquery(upcoming))


def describe_rules(rules) -> str:
    if not rules or not rules.rrules:
        return ""
    try:
        return "; ".join(rule.to_text() for rule in rules.rrules)
    except (AttributeError, ValueError, KeyError):
        return ""


def home(request):
    """All sessions by country and city, with LIVE NOW badges and the next start. One query."""
    now = clock.now()
    sessions = list(
        _with_live_and_next(Session.objects.all(), now).order_by("country", Lower(Trim("city")), "name")
    )
    for session in sessions:
        session.place = f"{session.city.strip()}, {session.country}"
        session.recurrence_text = describe_rules(session.recurrence)
        session.next_local = session.on_wall_clock(session.next_starts_at)
    return render(request, "home.html", {"sessions": sessions})


def session_detail(request, slug: str):
    now = clock.now()
    session = get_object_or_404(_with_live_and_next(Session.objects.all(), now), slug=slug)
    zone = session.zone
    today = now.astimezone(zone).date() if zone else now.date()
    # Instances without a known window count by their local date.
    still_on = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=today)
    upcoming = session.instances.filter(still_on).order_by("date", "start_time", "pk")[:UPCOMING_SHOWN]
    past = session.instances.exclude(still_on).order_by("-date", "-start_time", "-pk")[:PAST_SHOWN]
    return render(request, "sessions/session_detail.html", {
        "session": session,
        "recurrence_text": describe_rules(session.recurrence),
        "upcoming": upcoming,
        "past": past,
    })


def instance_detail(request, pk: int):
    instance = get_object_or_404(SessionInstance.objects.select_related("session"), pk=pk)
    answers = (
        instance.attendances.filter(status__in=[Attendance.Status.YES, Attendance.Status.MAYBE])
        .select_related("person")
        .order_by("person__first_name", "person__last_name", "person__pk")
    )
    going = [a.person for a in answers if a.status == Attendance.Status.YES]
    maybe = [a.person for a in answers if a.status == Attendance.Status.MAYBE]
    viewer = request.user
    my_status = None
    if viewer.is_authenticated:
        my_status = (
            Attendance.objects.filter(session_instance=instance, person__user=viewer)
            .values_list("status", flat=True)
            .first()
        )
    now = clock.now()
    return render(request, "sessions/instance_detail.html", {
        "instance": instance,
        "session": instance.session,
        "answer_lists": [("Going", "going", going), ("Maybe", "maybe", maybe)],
        "here_now": list(people_at(instance, viewer=viewer)) if instance.is_active else [],
        "nearby": list(live_nearby(instance)),
        "my_status": my_status,
        "statuses": Attendance.Status.choices,
        "ended": instance.ends_at is not None and instance.ends_at <= now,
    })
