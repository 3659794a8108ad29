"""The pages that show people: the home page (live now, soon, browse, near me), an
instance, a person, and the buttons on an instance or occurrence: Going / Maybe / Not
going, "I'm here", "I've left".

Thin: the services in ``people.services`` decide, the privacy rule is
``people.models`` (``visible_at_live_instance_to`` / ``visible_to`` / ``may_see_names``).
A refusal is shown as a message on the instance page. A click made while logged out is
kept in the session and carried out after logging in (``resume_action``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe

from people.api import current_location
from people.models import Attendance, Person, may_see_names, people_here_count
from people.services import (
    AttendanceRefused,
    answer,
    answer_refusal,
    check_in,
    check_in_refusal,
    leave,
    live_nearby,
    may_leave,
    person_for_user,
    unknown_answer,
)
from sessions_app import clock
from sessions_app.models import (
    Session,
    SessionInstance,
    city_key_expression,
    country_name,
)
from sessions_app.upcoming import NotAnOccurrence, instance_for_occurrence, next_starts_from_rules
from sessions_app.views import describe_schedule, slots_of, with_has_slots

# Named explicitly so that members log in on the site's own form (the admin's refuses
# non-staff accounts), whatever settings.LOGIN_URL says.
member_required = login_required(login_url="login")

PAGE_SIZE = 25
LIVE_SHOWN = 30
SOON_SHOWN = 30
SOON_SPAN = timedelta(hours=24)
# The instance page's other live sessions in its city.
NEARBY_SHOWN = 20
CITIES_SHOWN = 60
# Country and city counts change only when sessions are added: cached for a while so
# that the home page does not count every session on every request.
BROWSE_CACHE_SECONDS = 300
PENDING_KEY = "ceol_pending_action"


def _person_of(user) -> Person:
    """The user's player profile, created from the account on first use (accounts made in
    the admin may have none yet)."""
    return person_for_user(user)


def _with_next_start(sessions, now):
    """Annotate each session with its next start."""
    upcoming = (
        SessionInstance.objects.filter(session=OuterRef("pk"), starts_at__gt=now, is_cancelled=False)
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    return sessions.annotate(next_starts_at=Subquery(upcoming))


def _live_now(viewer, *, city: str, country: str) -> tuple[list, bool]:
    """The first ``LIVE_SHOWN`` live instances by start (in ``city`` when the page is
    filtered by a city and its country), with the people ``viewer`` may see there, and
    whether there are more. Two queries whatever the number of sessions or of live
    instances."""
    with_counts = SessionInstance.objects.annotate(here_count=people_here_count(viewer))
    if city and country:
        return with_counts.live_in_city(city=city, country=country, limit=LIVE_SHOWN)
    ids = list(
        SessionInstance.objects.live().order_by("starts_at", "pk").values_list("pk", flat=True)[: LIVE_SHOWN + 1]
    )
    if not ids:
        return [], False
    live = list(with_counts.filter(pk__in=ids[:LIVE_SHOWN]).with_listed_session().order_by("starts_at", "pk"))
    return live, len(ids) > LIVE_SHOWN


T = TypeVar("T")


def _cached(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept for ``BROWSE_CACHE_SECONDS`` in the cache (Django's
    ``get_or_set``, typed: it returns what ``compute`` returns)."""
    return cast(T, cache.get_or_set(key, compute, BROWSE_CACHE_SECONDS))


def _countries() -> list[tuple[str, str, int]]:
    def count():
        rows = Session.objects.order_by().values_list("country").annotate(n=Count("pk"))
        return sorted(((code, country_name(code), n) for code, n in rows), key=lambda row: row[1])

    return _cached("ceol:home:countries", count)


def _cities(country: str) -> list[tuple[str, int]]:
    """The country's cities (by ``city_key``, shown as most often written), most sessions first."""

    def count():
        rows = (
            Session.objects.in_country(country)
            .order_by()
            .annotate(key=city_key_expression())
            .values("key")
            .annotate(n=Count("pk"))
            .order_by("-n", "key")
            .values_list("key", "n")[:CITIES_SHOWN]
        )
        return [(key.title(), n) for key, n in rows]

    return _cached(f"ceol:home:cities:{country}", count)


def _float_param(request, name: str, limit: float) -> float | None:
    try:
        value = float(request.GET.get(name, ""))
    except ValueError:
        return None
    return value if -limit <= value <= limit else None


def _text_param(request, name: str, limit: int) -> str:
    """A query parameter trimmed, inner spaces collapsed, NULs dropped (PostgreSQL refuses them)."""
    return " ".join(request.GET.get(name, "").replace("\x00", "").split())[:limit]


def _page_number(request) -> int:
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or len(raw) > 5:
        return 1
    return max(1, min(int(raw), 10_000))


@require_safe
def home(request):
    """Live now, then what starts in the next 24 hours, then browsing (country, city,
    search, near me) one page at a time. A fixed number of queries whatever the number
    of sessions."""
    now = clock.now()
    viewer = request.user
    query = _text_param(request, "q", 100)
    country = _text_param(request, "country", 2).upper()
    country = country if len(country) == 2 and country.isascii() and country.isalpha() else ""
    city = _text_param(request, "city", 120)
    latitude, longitude = _float_param(request, "lat", 90), _float_param(request, "lon", 180)
    near = latitude is not None and longitude is not None
    page = _page_number(request)

    live, more_live = _live_now(viewer, city=city, country=country)
    soon = list(
        SessionInstance.objects.starting_between(now, now + SOON_SPAN)
        .filter(is_active=False)
        .with_listed_session()[: SOON_SHOWN + 1]
    )

    sessions = Session.objects.all()
    if country:
        sessions = sessions.in_country(country)
    if city:
        sessions = sessions.in_city(city)
    if query:
        sessions = sessions.search(query)
    offset = (page - 1) * PAGE_SIZE
    if latitude is not None and longitude is not None:  # near
        sessions = sessions.near(latitude, longitude, wanted=offset + PAGE_SIZE + 1)
    elif country and city:
        # The same order (both are fixed); SQLite reads it from session_browse_order only
        # when the fixed city expression is not repeated in ORDER BY.
        sessions = sessions.order_by("name", "pk")
    else:
        sessions = sessions.order_by("country", city_key_expression(), "name", "pk")
    shown = list(with_has_slots(_with_next_start(sessions, now))[offset : offset + PAGE_SIZE + 1])
    has_next = len(shown) > PAGE_SIZE
    shown = shown[:PAGE_SIZE]
    slots = slots_of(shown)  # no query unless a session shown has further slots
    live_ids = dict(SessionInstance.objects.live_of_sessions([s.pk for s in shown]).values_list("session_id", "pk"))
    # A session with no upcoming instance (no auto-create, or beyond its horizon) shows
    # the next date its rules give.
    from_rules = next_starts_from_rules([s for s in shown if s.next_starts_at is None], slots, now=now)
    for session in shown:
        if session.pk in from_rules:
            session.next_starts_at = from_rules[session.pk]
        session.live_instance_id = live_ids.get(session.pk)
        session.place = f"{session.city.strip()}, {country_name(session.country)}"
        session.schedule_text = describe_schedule(session, slots.get(session.pk, []))

    params: dict[str, str | int] = {k: v for k, v in {"q": query, "country": country, "city": city}.items() if v}
    if near:
        params.update(lat=f"{latitude:.4f}", lon=f"{longitude:.4f}")
    return render(
        request,
        "home.html",
        {
            "live": live,
            "more_live": more_live,
            "live_city": bool(city and country),
            "soon": soon[:SOON_SHOWN],
            "more_soon": len(soon) > SOON_SHOWN,
            "countries": _countries() if not (country or query or near) else [],
            "cities": _cities(country) if country and not city else [],
            "sessions": shown,
            "page": page,
            "query": query,
            "country": country,
            "country_label": country_name(country) if country else "",
            "city": city,
            "near": near,
            "browsing": bool(params),
            "prev_url": "?" + urlencode({**params, "page": page - 1}) if page > 1 else None,
            "next_url": "?" + urlencode({**params, "page": page + 1}) if has_next else None,
            "show_names": may_see_names(viewer),
        },
    )


def instance_people(instance: SessionInstance, viewer, *, now) -> dict:
    """Who the instance page shows, by the privacy rule: answer lists (names for members,
    counts for everyone), who is here now, who came; three queries at most."""
    answers = list(
        Attendance.objects.filter(
            session_instance=instance, status__in=[Attendance.Status.YES, Attendance.Status.MAYBE]
        )
        .visible_to(viewer)
        .select_related("person")
        .order_by("person__first_name", "person__last_name", "person__pk")
    )
    going = [a.person for a in answers if a.status == Attendance.Status.YES]
    maybe = [a.person for a in answers if a.status == Attendance.Status.MAYBE]
    mine = None
    if viewer.is_authenticated:
        mine = Attendance.objects.filter(session_instance=instance, person__user=viewer).first()
    here_now = list(Person.objects.here_now(instance.pk, viewer)) if instance.is_active else []
    return {"going": going, "maybe": maybe, "mine": mine, "here_now": here_now}


@require_safe
def instance_detail(request, pk: int):
    instance = get_object_or_404(SessionInstance.objects.select_related("session"), pk=pk)
    now = clock.now()
    viewer = request.user
    state = instance.state_at(now)
    people = instance_people(instance, viewer, now=now)
    mine = people["mine"]
    is_live = state == SessionInstance.State.LIVE
    nearby, more_nearby = live_nearby(instance, limit=NEARBY_SHOWN) if is_live else ([], False)
    return render(
        request,
        "sessions/instance_detail.html",
        {
            "instance": instance,
            "session": instance.session,
            "state": state,
            "is_live": is_live,
            "show_names": may_see_names(viewer),
            "going": people["going"],
            "maybe": people["maybe"],
            "here_now": people["here_now"],
            "my_status": mine.status if mine else None,
            "can_answer": answer_refusal(instance, now) is None,
            "can_check_in": check_in_refusal(instance, now) is None and not may_leave(instance, mine),
            "can_leave": may_leave(instance, mine),
            "organiser_view": viewer.is_authenticated and viewer.is_staff,
            "nearby": nearby,
            "more_nearby": more_nearby,
            # The home page filtered by the city lists its live sessions (and all its sessions).
            "city_url": reverse("home")
            + "?"
            + urlencode({"country": instance.session.country, "city": instance.session.city.strip()}),
            "statuses": Attendance.Status.choices,
            "country_name": country_name(instance.session.country),
        },
    )


@require_safe
@member_required
def person_detail(request, pk: int):
    person = get_object_or_404(Person.objects.select_related("at_active_session_instance__session"), pk=pk)
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "location": current_location(person, request.user, with_when=True),
            "is_me": person.is_viewed_by_self(request.user),
            "may_see_location": person.location_visible_to(request.user),
        },
    )


# --- the buttons -------------------------------------------------------------------


def _do_answer(request, instance: SessionInstance, status: str) -> None:
    try:
        answer(person=_person_of(request.user), instance=instance, status=status)
    except AttendanceRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Your answer for {instance.session.name}: {Attendance.Status(status).label}.")


def _do_check_in(request, instance: SessionInstance) -> None:
    try:
        check_in(person=_person_of(request.user), instance=instance)
    except AttendanceRefused as refusal:
        messages.error(request, str(refusal))
        return
    instance.refresh_from_db(fields=["is_active"])
    if instance.is_active:
        messages.success(request, f"You are checked in at {instance.session.name}.")
    else:
        messages.success(request, f"You are going to {instance.session.name}; you will show as here once it is live.")


def _do_leave(request, instance: SessionInstance) -> None:
    try:
        leave(person=_person_of(request.user), instance=instance)
    except AttendanceRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"You have left {instance.session.name}. Thanks for playing!")


def _instance_for(kind: str, args: dict) -> SessionInstance:
    if kind == "occurrence":
        session = get_object_or_404(Session, pk=args["session_id"])
        try:
            return instance_for_occurrence(
                session, date.fromisoformat(args["on"]), now=clock.now(), schedule_id=args.get("schedule_id")
            )
        except (NotAnOccurrence, ValueError) as exc:
            raise Http404(str(exc)) from exc
    return get_object_or_404(SessionInstance.objects.select_related("session"), pk=args["instance_id"])


def _perform(request, action: str, kind: str, args: dict, status: str = "") -> SessionInstance:
    instance = _instance_for(kind, args)
    if action == "answer":
        _do_answer(request, instance, status)
    elif action == "check_in":
        _do_check_in(request, instance)
    else:
        _do_leave(request, instance)
    return instance


def _button(request, *, action: str, kind: str, args: dict, back: str):
    """Run a button's action for a member; for a visitor keep it for after the login.
    An answer that is not yes / maybe / no goes back to ``back`` (a URL) before anything
    is kept or created."""
    status = request.POST.get("status", "")
    refusal = unknown_answer(status) if action == "answer" else None
    if refusal:
        messages.error(request, refusal)
        return redirect(back)
    if not request.user.is_authenticated:
        request.session[PENDING_KEY] = {"action": action, "kind": kind, "args": args, "status": status}
        messages.info(request, "Log in and your answer will be recorded.")
        return redirect(f"{reverse('login')}?{urlencode({'next': reverse('resume_action')})}")
    instance = _perform(request, action, kind, args, status)
    return redirect("instance_detail", pk=instance.pk)


def _instance_url(pk: int) -> str:
    return reverse("instance_detail", args=[pk])


@require_POST
def answer_instance(request, pk: int):
    """POST ``status`` = yes / maybe / no."""
    return _button(request, action="answer", kind="instance", args={"instance_id": pk}, back=_instance_url(pk))


@require_POST
def check_in_instance(request, pk: int):
    """POST: "I'm here". Redirects to the instance checked in at."""
    return _button(request, action="check_in", kind="instance", args={"instance_id": pk}, back=_instance_url(pk))


@require_POST
def leave_instance(request, pk: int):
    """POST: "I've left"."""
    return _button(request, action="leave", kind="instance", args={"instance_id": pk}, back=_instance_url(pk))


@require_POST
def answer_occurrence(request, slug: str, on: str):
    """POST ``status`` for an occurrence that may not have an instance yet: the instance
    is created as auto-create would create it, then answered."""
    session = get_object_or_404(Session, slug=slug)
    try:
        date.fromisoformat(on)
    except ValueError as exc:
        raise Http404("Not a date.") from exc
    slot = request.POST.get("slot", "")  # a further time slot's id; empty: the main slot
    if slot and not (slot.isdigit() and len(slot) <= 18):
        raise Http404("Not a time slot.")
    args = {"session_id": session.pk, "on": on, "schedule_id": int(slot) if slot else None}
    return _button(
        request, action="answer", kind="occurrence", args=args, back=reverse("session_detail", args=[session.slug])
    )


@require_safe
@member_required
def resume_action(request):
    """After logging in: carry out the click made while logged out, once."""
    pending = request.session.pop(PENDING_KEY, None)
    if not isinstance(pending, dict) or pending.get("action") not in {"answer", "check_in", "leave"}:
        return redirect("home")
    try:
        instance = _perform(
            request,
            pending["action"],
            pending.get("kind", "instance"),
            dict(pending["args"]),
            str(pending.get("status", "")),
        )
    except (KeyError, TypeError, ValueError, Http404):
        messages.error(request, "That session could not be found any more.")
        return redirect("home")
    return redirect("instance_detail", pk=instance.pk)
