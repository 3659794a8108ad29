"""The sweep's first step: create the missing occurrences of sessions whose auto-create
horizon is behind (SPEC section 4, "Auto-create").

A session is due when ``auto_create_due_at`` is NULL or not after ``t``: NULL is what a
session inserted by ``loaddata``, ``bulk_create`` or SQL has, and what a schedule change
writes, so such a session is expanded at the next sweep whatever its ``t`` (a simulated
time in 1990 included). ``auto_created_until`` NULL means "restart the horizon at ``t``".
Runs inside the sweep's transaction, under its lock; never reads the clock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from sessions_app.db import IdIn
from sessions_app.hooks import suppress_hooks
from sessions_app.models import Session, SessionInstance
from sessions_app.occurrences import RecurrenceError, occurrence_starts, parse_rules
from sessions_app.windows import MAX_WINDOW

# How far past the horizon to look for the next occurrence when scheduling the next
# auto-create; a session with none in that span is looked at again after it.
NEXT_OCCURRENCE_SEARCH = timedelta(days=400)


def _expected_occurrences(session: Session, t: datetime, after: datetime, before: datetime) -> list[SessionInstance]:
    """Instances the recurrence calls for starting in ``[after, before)``, windows set,
    within the session's initiation and termination dates, window still open at ``t``."""
    starts = occurrence_starts(
        session.recurrence,
        anchor_date=session.anchor_date(),
        start_time=session.start_time,
        tz=session.zone,
        after=after,
        before=before,
    )
    expected = []
    for start in starts:
        local_date = start.date()
        if session.initiation_date and local_date < session.initiation_date:
            continue
        if session.termination_date and local_date > session.termination_date:
            continue
        instance = SessionInstance(
            session=session, date=local_date, start_time=session.start_time, end_time=session.end_time,
            auto_created=True,
        )
        instance.refresh_window()
        if instance.active_until is not None and instance.active_until > t:
            expected.append(instance)
    return expected


def _remove_stale(session: Session, t: datetime, horizon_end: datetime) -> int:
    """After a restart of the horizon (a schedule change): future auto-created instances
    that no longer match and have no attendance go. By date: an instance edited by hand
    (another time) still stands for its date."""
    stale = session.instances.filter(auto_created=True, starts_at__gt=t, attendances__isnull=True)
    last = stale.order_by("-starts_at").values_list("starts_at", flat=True).first()
    if last is None:
        return 0
    still_wanted = {
        i.date for i in _expected_occurrences(session, t, t, max(last, horizon_end) + timedelta(seconds=1))
    }
    doomed = [i.pk for i in stale if i.date not in still_wanted]
    if not doomed:
        return 0
    with suppress_hooks():
        removed, _ = SessionInstance.objects.filter(pk__in=doomed).delete()
    return removed


def _create_for(session: Session, t: datetime) -> list[SessionInstance]:
    """Create the missing occurrences of one due session and move its horizon on."""
    if session.start_time is None or session.end_time is None:
        raise RecurrenceError("Missing start or end time")
    horizon_end = t + timedelta(hours=session.auto_create_hours_ahead)
    restart = session.auto_created_until is None
    after = t - MAX_WINDOW if restart else session.auto_created_until
    expected = _expected_occurrences(session, t, after, horizon_end)
    if restart:
        _remove_stale(session, t, horizon_end)

    existing = session.instances.filter(date__in={i.date for i in expected}).values_list(
        "date", "start_time", "auto_created"
    )
    taken = {(d, s) for d, s, _ in existing} | {(d, "auto") for d, _, auto in existing if auto}
    missing = [i for i in expected if (i.date, i.start_time) not in taken and (i.date, "auto") not in taken]
    SessionInstance.objects.bulk_create(missing)

    upcoming = _expected_occurrences(session, t, horizon_end, horizon_end + NEXT_OCCURRENCE_SEARCH)
    due_at = (
        upcoming[0].starts_at - timedelta(hours=session.auto_create_hours_ahead)
        if upcoming
        else horizon_end + NEXT_OCCURRENCE_SEARCH
    )
    Session.objects.filter(pk=session.pk).update(auto_created_until=horizon_end, auto_create_due_at=due_at)
    return missing


def due_sessions(t: datetime, *, session_ids: Collection[int] | None) -> list[Session]:
    """Sessions with ``auto_create_instances`` whose horizon is due at ``t`` (NULL or any
    marker not after ``t``), limited to ``session_ids`` unless that is ``None``.

    The rules are read as text and parsed per session, so that one unparsable value is
    that session's error instead of failing the query that loads them all.
    """
    due = (
        Session.objects.filter(auto_create_instances=True)
        .filter(Q(auto_create_due_at__isnull=True) | Q(auto_create_due_at__lte=t))
        .defer("recurrence")
        .annotate(recurrence_text=Cast("recurrence", TextField()))
        .order_by("id")
    )
    if session_ids is not None:
        due = due.filter(IdIn("id", session_ids))
    return list(due)


def _parse_rules(session: Session) -> None:
    session.recurrence = parse_rules(session.recurrence_text or "")


def auto_create(
    t: datetime, *, session_ids: Collection[int] | None, skip: Collection[int], errors: list[dict]
) -> list[dict]:
    """Create every missing occurrence due at ``t`` (SPEC section 4) for all sessions
    (``session_ids=None``) or those listed, except ``skip`` (invalid timezones).

    Per-session problems (unparsable or unsupported rules, missing times) are appended to
    ``errors`` and that session is skipped; each session runs in a savepoint so a failure
    leaves nothing of it half-done. Returns the ``auto_created`` entries of the report.
    """
    report = []
    for session in due_sessions(t, session_ids=session_ids):
        if session.pk in skip:
            continue
        try:
            _parse_rules(session)
            with transaction.atomic():
                created = _create_for(session, t)
        except RecurrenceError as exc:
            errors.append({"session_id": session.pk, "error": str(exc)})
            continue
        if created:
            report.append({
                "session_id": session.pk,
                "session_name": session.name,
                "instances_created": len(created),
                "dates": [i.date.isoformat() for i in created],
                "instance_ids": [i.pk for i in created],
            })
    return report
