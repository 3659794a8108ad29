"""Server-rendered pages: the session list, a session, one instance.

Thin: each view loads what its page shows in a fixed number of queries and calls the
person services (``people.services``) for who is where; the answer and check-in buttons
post to ``people.views``.
"""

from __future__ import annotations

import recurrence as recurrence_lib
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Lower, Trim
from django.shortcuts import get_object_or_404, render

from people.models import Attendance
from people.services import live_nearby, people_at
from sessions_app import clock
from sessions_app.models import Session, SessionInstance, SessionSchedule
from sessions_app.occurrences import RecurrenceError, parse_rules

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
    return sessions.annotate(
        live_instance_id=Subquery(live), next_starts_at=Subquery(upcoming),
        has_slots=Exists(SessionSchedule.objects.filter(session=OuterRef("pk"))),
    )


def _slots_of(sessions) -> dict[int, list[SessionSchedule]]:
    """Further slots of these sessions (annotated ``has_slots``), as text: one query, and
    none when no session has any."""
    with_slots = [session.pk for session in sessions if session.has_slots]
    return SessionSchedule.objects.as_text_by_session(with_slots) if with_slots else {}


def describe_rules(rules) -> str:
    if not rules or not rules.rrules:
        return ""
    try:
        return "; ".join(rule.to_text() for rule in rules.rrules)
    except (AttributeError, ValueError, KeyError):
        return ""


WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _weekly_words(rule) -> str:
    """"Tuesdays", "every other Sunday", "every 3 weeks on Friday"; "" when the rule is
    not a plain weekly one (the caller falls back to django-recurrence's words)."""
    if rule.freq != recurrence_lib.WEEKLY or not rule.byday or rule.until or rule.count or rule.bysetpos:
        return ""
    if any(getattr(day, "index", None) for day in rule.byday):
        return ""
    days = [WEEKDAY_NAMES[getattr(day, "number", day)] for day in rule.byday]
    interval = rule.interval or 1
    if interval == 1:
        return " and ".join(f"{day}s" for day in days)
    every = "every other" if interval == 2 else f"every {interval} weeks on"
    return f"{every} {' and '.join(days)}"


def describe_slot(rules, start_time, end_time) -> str:
    """One slot in words: "Tuesdays 21:00–23:30", "every other Sunday 16:00–19:00"."""
    words = ""
    if rules and rules.rrules and not rules.exrules and not rules.rdates:
        simple = [_weekly_words(rule) for rule in rules.rrules]
        words = "; ".join(simple) if all(simple) else ""
    words = words or describe_rules(rules)
    times = f"{start_time:%H:%M}–{end_time:%H:%M}" if start_time and end_time else ""
    return " ".join(part for part in (words, times) if part)


def describe_schedule(session: Session, slots: list) -> str:
    """A session's slots in words, the main slot first, joined by " · " (list and session
    pages). ``slots`` come from ``SessionSchedule.objects.as_text_by_session``: a slot
    whose stored rules cannot be read is left out, never an error."""
    parts = [describe_slot(session.recurrence, session.start_time, session.end_time)]
    for slot in slots:
        try:
            rules = parse_rules(slot.rules_text or "")
        except RecurrenceError:
            continue
        words = describe_slot(rules, slot.start_time, slot.end_time)
        parts.append(f"{words} ({slot.label})" if slot.label and words else words)
    return " · ".join(part for part in parts if part)


def home(request):
    """All sessions by country and city, with LIVE NOW badges and the next start. One query
    (a second one for the further slots when any session has some)."""
    now = clock.now()
    sessions = list(
        _with_live_and_next(Session.objects.all(), now).order_by("country", Lower(Trim("city")), "name")
    )
    slots = _slots_of(sessions)
    for session in sessions:
        session.place = f"{session.city.strip()}, {session.country}"
        session.recurrence_text = describe_rules(session.recurrence)
        session.schedule_text = describe_schedule(session, slots.get(session.pk, []))
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
        "schedule_text": describe_schedule(session, _slots_of([session]).get(session.pk, [])),
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
