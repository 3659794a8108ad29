"""Server-rendered session page: what the session is, when it meets, its next
occurrences (created or not: each can be answered ahead) and its recent instances.

Thin and people-free: the pages that show people (home, instance, person) live in
``people.views``; the answer buttons post there.
"""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from sessions_app import clock
from sessions_app.models import Session, SessionInstance, country_name
from sessions_app.upcoming import next_occurrences

PAST_SHOWN = 5


def describe_rules(rules) -> str:
    if not rules or not getattr(rules, "rrules", None):
        return ""
    try:
        return "; ".join(rule.to_text() for rule in rules.rrules)
    except (AttributeError, ValueError, KeyError, TypeError, IndexError):
        return ""


@require_GET
def session_detail(request, slug: str):
    now = clock.now()
    session = get_object_or_404(Session, slug=slug)
    session.live_instance_id = (
        SessionInstance.objects.live_of_sessions([session.pk]).values_list("pk", flat=True).first()
    )
    zone = session.zone
    today = now.astimezone(zone).date() if zone else now.date()
    still_on = Q(ends_at__gt=now) | Q(ends_at__isnull=True, date__gte=today)
    past = session.instances.exclude(still_on).order_by("-date", "-start_time", "-pk")[:PAST_SHOWN]
    return render(request, "sessions/session_detail.html", {
        "session": session,
        "recurrence_text": describe_rules(session.recurrence),
        "occurrences": next_occurrences(session, now=now),
        "past": past,
        "country_name": country_name(session.country),
    })
