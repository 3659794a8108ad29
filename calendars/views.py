"""Calendar feeds: a session's public feed and a person's private one (SPEC 7).

Two queries each, whatever the number of instances: the session (or the person by
token), then the instances with their sessions.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe

from calendars.feeds import feed_range, in_feed_range
from calendars.ical import Entry, build_calendar
from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import Session


def _calendar_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _url_of(request):
    return lambda instance: request.build_absolute_uri(reverse("instance_detail", args=[instance.pk]))


@require_safe
def session_calendar(request, slug: str):
    session = get_object_or_404(Session, slug=slug)
    since, until = feed_range(now=clock.now(), horizon=session.auto_created_until)
    instances = session.instances.filter(in_feed_range(since=since, until=until)).order_by("date", "start_time", "pk")
    body = build_calendar(
        name=f"{session.name} · ceol",
        entries=(Entry(instance) for instance in instances),  # instance.session is `session`: no query each
        url_of=_url_of(request),
        uid_domain=request.get_host(),
    )
    return _calendar_response(body, f"{session.slug}.ics")


@require_safe
def person_calendar(request, token: str):
    """A wrong or renewed token is the site's plain 404: no hint whether anyone has it."""
    person_id = Person.objects.filter(calendar_token=token).values_list("pk", flat=True).first()
    if person_id is None:
        raise Http404
    since, until = feed_range(now=clock.now())
    answers = (
        Attendance.objects.filter(person_id=person_id, status__in=[Attendance.Status.YES, Attendance.Status.MAYBE])
        .filter(in_feed_range(since=since, until=until, prefix="session_instance__"))
        .select_related("session_instance__session")
        .order_by("session_instance__date", "session_instance__start_time", "session_instance__pk")
    )
    body = build_calendar(
        name="My sessions · ceol",
        entries=(
            Entry(answer.session_instance, description=f"Your answer: {Attendance.Status(answer.status).label}.")
            for answer in answers
        ),
        url_of=_url_of(request),
        uid_domain=request.get_host(),
    )
    return _calendar_response(body, "my-sessions.ics")
