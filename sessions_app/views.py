"""Server-rendered session page: what the session is, when it meets, its next
occurrences (created or not: each can be answered ahead) and its recent instances.

Thin and people-free: the pages that show people (home, instance, person) live in
``people.views``; the answer buttons post there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import recurrence as recurrence_lib
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from sessions_app import clock
from sessions_app.models import Session, SessionInstance, SessionSchedule, country_name
from sessions_app.occurrences import RecurrenceError, parse_rules
from sessions_app.upcoming import next_occurrences

if TYPE_CHECKING:
    from sessions_app.models import SlotText

PAST_SHOWN = 5


def with_has_slots(sessions):
    """Annotate ``has_slots``: whether a session has further time slots (no extra query)."""
    return sessions.annotate(has_slots=Exists(SessionSchedule.objects.filter(session=OuterRef("pk"))))


def slots_of(sessions) -> dict[int, list[SlotText]]:
    """Further slots of these sessions (annotated ``has_slots``), as text: one query, and
    none when no session has any."""
    with_slots = [session.pk for session in sessions if session.has_slots]
    return SessionSchedule.objects.as_text_by_session(with_slots) if with_slots else {}


def describe_rules(rules) -> str:
    if not rules or not getattr(rules, "rrules", None):
        return ""
    try:
        return "; ".join(rule.to_text() for rule in rules.rrules)
    except (AttributeError, ValueError, KeyError, TypeError, IndexError):
        return ""


WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _weekly_words(rule) -> str:
    """ "Tuesdays", "every other Sunday", "every 3 weeks on Friday"; "" when the rule is
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


@require_safe
def session_detail(request, slug: str):
    now = clock.now()
    session = get_object_or_404(with_has_slots(Session.objects.all()), slug=slug)
    slots = slots_of([session]).get(session.pk, [])
    session.live_instance_id = (
        SessionInstance.objects.live_of_sessions([session.pk]).values_list("pk", flat=True).first()
    )
    zone = session.zone
    today = now.astimezone(zone).date() if zone else now.date()
    still_on = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=today)
    past = session.instances.exclude(still_on).order_by("-date", "-start_time", "-pk")[:PAST_SHOWN]
    return render(
        request,
        "sessions/session_detail.html",
        {
            "session": session,
            "recurrence_text": describe_rules(session.recurrence),
            "schedule_text": describe_schedule(session, slots),
            "occurrences": next_occurrences(session, now=now, slots=slots),
            "past": past,
            "country_name": country_name(session.country),
        },
    )
