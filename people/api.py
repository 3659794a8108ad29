"""The person side of the JSON API (SPEC 7): where a person is, and ``/api/live``.

Thin: the privacy rule is ``people.models.location_visible_q`` (SPEC 3.8, through
``people_here_count`` and ``Person.location_visible_to``), the live rule is
``SessionInstance.objects.live()`` (``active()`` as pages read it); errors are JSON
through ``api_endpoint``.
"""

from __future__ import annotations

import hashlib
import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import urlencode

from people.models import Person, people_here_count
from sessions_app.api import api_endpoint, json_error
from sessions_app.models import SessionInstance, SweepRun

# ``?sessions=`` takes at most this many ids (a page shows far fewer).
MAX_LIVE_SESSION_IDS = 500
# Without ``?sessions=``, ``/api/live`` answers the live instances one page of this many
# at a time, by session id (``next`` links the following page).
LIVE_PAGE_SIZE = 500


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


def _session_ids(raw: str) -> list[int]:
    """``?sessions=1,2,3`` -> ids; raises ``ValueError``."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_LIVE_SESSION_IDS:
        raise ValueError(f"At most {MAX_LIVE_SESSION_IDS} session ids.")
    if not all(part.isdigit() and len(part) <= 18 for part in parts):
        raise ValueError("sessions must be a comma-separated list of ids.")
    return sorted({int(part) for part in parts})


def _after(raw: str | None) -> int:
    """``?after=<session id>`` -> that id; absent -> 0 (the first page); raises ``ValueError``."""
    if raw is None:
        return 0
    if not (raw.isdigit() and len(raw) <= 18):
        raise ValueError("after must be a session id (the next page's link gives it).")
    return int(raw)


def _live_body(rows, *, viewer) -> dict:
    """``evaluated_at``, the ``live`` rows (session id, instance id, people here) and, for a
    logged-in viewer, ``me``: where they are themselves."""
    last = SweepRun.objects.order_by("-started_at").values_list("evaluated_at", flat=True).first()
    body: dict[str, object] = {
        "evaluated_at": last.isoformat() if last else None,
        "live": [{"session_id": s, "instance_id": i, "people_here": n} for s, i, n in rows],
    }
    person = person_of_viewer(viewer)
    if person is not None:
        body["me"] = {"person_id": person.pk, "active_session": current_location(person, viewer, with_when=True)}
    return body


def _with_people_here(instances, viewer):
    """(session id, instance id, people ``viewer`` may see there): one index probe each."""
    return instances.annotate(here_count=people_here_count(viewer)).values_list("session_id", "pk", "here_count")


def live_state(*, viewer, session_ids: list[int]) -> dict:
    """The body of ``/api/live?sessions=``: the live instances of ``session_ids`` with the
    number of people there whom ``viewer`` may see, and ``me``. Two queries, three for a
    logged-in viewer, whatever the number of sessions."""
    live = SessionInstance.objects.live_of_sessions(session_ids).order_by("session_id", "pk")
    return _live_body(_with_people_here(live, viewer), viewer=viewer)


def live_page(*, viewer, after: int) -> dict:
    """The body of ``/api/live[?after=]``: the live instances of the sessions after the
    id ``after``, ``LIVE_PAGE_SIZE`` at most by session id (a session has one live
    instance at most, so the id is a cursor), as ``live_state`` shows them, and ``next``:
    the following page's URL, ``null`` on the last. As many queries as ``live_state``, and
    one index range of ``instance_live_by_session`` whatever the number live."""
    live = SessionInstance.objects.live().filter(session_id__gt=after).order_by("session_id")
    rows = list(_with_people_here(live, viewer)[: LIVE_PAGE_SIZE + 1])
    page = rows[:LIVE_PAGE_SIZE]
    body = _live_body(page, viewer=viewer)
    more = len(rows) > LIVE_PAGE_SIZE
    body["next"] = f"{reverse('api_live')}?{urlencode({'after': page[-1][0]})}" if more else None
    return body


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


@api_endpoint("GET", "HEAD")
def live(request):
    """``GET /api/live?sessions=1,2,3`` and ``GET /api/live[?after=<session id>]`` (SPEC 7,
    the second one page at a time) with an ``ETag`` (per page); 304 when unchanged."""
    raw_ids, raw_after = request.GET.get("sessions"), request.GET.get("after")
    try:
        if raw_ids is not None and raw_after is not None:
            raise ValueError("after pages the list of every live instance; it does not go with sessions.")
        if raw_ids is not None:
            body = live_state(viewer=request.user, session_ids=_session_ids(raw_ids))
        else:
            body = live_page(viewer=request.user, after=_after(raw_after))
    except ValueError as exc:
        return json_error(str(exc), 400)
    content = json.dumps(body, separators=(",", ":"))
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
