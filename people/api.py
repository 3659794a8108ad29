"""The person side of the JSON API (SPEC 7): where a person is, and ``/api/live``.

Thin: the privacy rule is ``people.models.location_visible_q`` (SPEC 3.8), the live rule
is ``SessionInstance.objects.active()``; errors are JSON through ``api_endpoint``.
"""

from __future__ import annotations

import hashlib
import json

from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers

from people.models import Person, location_visible_q, people_here_count
from sessions_app.api import api_endpoint, json_error
from sessions_app.models import SessionInstance, SweepRun

# ``?sessions=`` takes at most this many ids (a page shows far fewer).
MAX_LIVE_SESSION_IDS = 500


def instance_summary(instance: SessionInstance, *, with_when: bool = False) -> dict:
    """The ``active_session`` object of the person endpoint (times are the session's local
    wall-clock times, ``HH:MM``; ``url`` is the instance page's path). ``with_when`` adds
    ``when``, the same for people to read (weekday, date, times with the zone abbreviation
    in force at each instant), for the header popup."""
    from sessions_app.templatetags.ceol_time import (
        describe_when,  # one wording for pages and API
    )

    session = instance.session
    summary = {
        "session_id": session.pk,
        "session_name": session.name,
        "instance_id": instance.pk,
        "date": instance.date.isoformat(),
        "start_time": instance.start_time.isoformat(timespec="minutes") if instance.start_time else None,
        "end_time": instance.end_time.isoformat(timespec="minutes") if instance.end_time else None,
        "venue_name": session.venue_name,
        "location_override": instance.location_override or None,
        "city": session.city,
        "country": session.country,
        "url": reverse("instance_detail", args=[instance.pk]),
    }
    if with_when:
        summary["when"] = describe_when(instance)
    return summary


def current_location(person: Person, viewer, *, with_when: bool = False) -> dict | None:
    """``instance_summary`` of where the person is, or ``None`` when nowhere or when
    ``viewer`` may not see it (SPEC 3.8).

    ``person`` should come with ``at_active_session_instance__session`` selected.
    """
    instance = person.at_active_session_instance
    if instance is None or not instance.is_active or not person.location_visible_to(viewer):
        return None
    return instance_summary(instance, with_when=with_when)


def person_of_viewer(viewer) -> Person | None:
    """The logged-in viewer's person with their location loaded (one query), or ``None``."""
    if viewer is None or not viewer.is_authenticated:
        return None
    return Person.objects.select_related("at_active_session_instance__session").filter(user=viewer).first()


@api_endpoint("GET", "HEAD")
def person_active_session(request, person_id: int):
    if not request.user.is_authenticated:
        return json_error("Log in to see where people are.", 401)
    person = get_object_or_404(Person.objects.select_related("at_active_session_instance__session"), pk=person_id)
    return JsonResponse({"person_id": person.pk, "active_session": current_location(person, request.user)})


def _session_ids(raw: str | None) -> list[int] | None:
    """``?sessions=1,2,3`` -> ids; absent -> ``None`` (all); raises ``ValueError``."""
    if raw is None:
        return None
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_LIVE_SESSION_IDS:
        raise ValueError(f"At most {MAX_LIVE_SESSION_IDS} session ids.")
    if not all(part.isdigit() and len(part) <= 18 for part in parts):
        raise ValueError("sessions must be a comma-separated list of ids.")
    return sorted({int(part) for part in parts})


def live_state(*, viewer, session_ids: list[int] | None) -> dict:
    """The body of ``/api/live``: live instances (of ``session_ids``, or all) with the
    number of people there whom ``viewer`` may see, and for a logged-in viewer where they
    are themselves (``me``). Two queries, three for a logged-in viewer, whatever the
    number of sessions."""
    if session_ids is None:
        # Every live instance: one grouped join, linear in the number live.
        instances = SessionInstance.objects.active()
        here = Count("people_here", filter=location_visible_q(viewer, prefix="people_here__"))
    else:
        # A page's sessions: their live instances and one index probe each for the count.
        instances = SessionInstance.objects.live_of_sessions(session_ids)
        here = people_here_count(viewer)
    rows = (
        instances.annotate(here_count=here).order_by("session_id", "pk").values_list("session_id", "pk", "here_count")
    )
    last = SweepRun.objects.order_by("-started_at").values_list("evaluated_at", flat=True).first()
    body = {
        "evaluated_at": last.isoformat() if last else None,
        "live": [{"session_id": s, "instance_id": i, "people_here": n} for s, i, n in rows],
    }
    person = person_of_viewer(viewer)
    if person is not None:
        body["me"] = {"person_id": person.pk, "active_session": current_location(person, viewer, with_when=True)}
    return body


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


@api_endpoint("GET", "HEAD")
def live(request):
    """``GET /api/live[?sessions=1,2,3]`` (SPEC 7) with an ``ETag``; 304 when unchanged."""
    try:
        session_ids = _session_ids(request.GET.get("sessions"))
    except ValueError as exc:
        return json_error(str(exc), 400)
    content = json.dumps(live_state(viewer=request.user, session_ids=session_ids), separators=(",", ":"))
    etag = '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(content, content_type="application/json")
    response["ETag"] = etag
    # The body depends on who asks: never shared by a cache, always revalidated.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie"])
    return response
