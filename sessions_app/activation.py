"""The sweep's second step: which instance of each session is active at ``t`` (SPEC 3.1-3.3).

A fixed handful of set-based statements over the stored UTC windows, whatever the number
of sessions: the cost is bounded by the open windows (an index range scan on
``active_from``) and the active instances (the partial index on ``is_active``). Nothing
here trusts how the data got there: every evaluation of a session decides from its rows
alone, so an instance un-cancelled with ``update()``, a termination date changed in SQL
or a hand-set ``is_active`` are all put right by the next evaluation that covers it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from sessions_app.db import IdIn, TextIn
from sessions_app.models import Session, SessionInstance
from sessions_app.windows import valid_timezone_names

# The distinct zone names in use, one index probe each (a loose index scan over the index
# on ``timezone``): cost follows the number of zones in use (hundreds at most), not the
# number of sessions.
_ZONES_IN_USE = f"""
    WITH RECURSIVE zones(name) AS (
        SELECT MIN(timezone) FROM {Session._meta.db_table}
        UNION ALL
        SELECT (SELECT MIN(s.timezone) FROM {Session._meta.db_table} s WHERE s.timezone > zones.name)
        FROM zones WHERE zones.name IS NOT NULL
    )
    SELECT name FROM zones WHERE name IS NOT NULL"""


def invalid_timezones(*, session_ids: Collection[int] | None) -> tuple[set[int], list[dict]]:
    """Sessions (all, or those listed) whose stored timezone is not an IANA name:
    their ids, and one error entry each.

    For all sessions: the zone names in use are listed through the index (one statement),
    and only when one of them is not valid are its sessions read (a second one).
    """
    rows = Session.objects.all()
    if session_ids is not None:
        rows = rows.filter(IdIn("id", session_ids)).exclude(TextIn("timezone", valid_timezone_names()))
    else:
        with connection.cursor() as cursor:
            cursor.execute(_ZONES_IN_USE)
            unknown = {name for (name,) in cursor.fetchall()} - valid_timezone_names()
        if not unknown:
            return set(), []
        rows = rows.filter(TextIn("timezone", unknown))
    bad = sorted(rows.order_by().values_list("id", "timezone"))
    return {sid for sid, _ in bad}, [{"session_id": sid, "error": f"Invalid timezone {name!r}"} for sid, name in bad]


def apply_activation(
    t: datetime, *, session_ids: Collection[int] | None, invalid: Collection[int]
) -> tuple[list[dict], list[dict]]:
    """Deactivate what no longer qualifies at ``t``, then activate each session's winner,
    for every session (``session_ids=None``) or those listed.

    Four statements: the winners that are not active yet, the active instances that are
    not winners, and two updates. The winner of a session is its qualifying instance with
    the latest ``starts_at``, then the higher id; the database ranks them and returns only
    the changes, so a steady sweep fetches nothing. Deactivating first keeps the
    one-active-per-session constraint true at every statement. Returns the
    ``activated`` and ``deactivated`` entries of the report.
    """
    qualifying = SessionInstance.objects.qualifying_at(t)
    active = SessionInstance.objects.active()
    if session_ids is not None:
        qualifying = qualifying.filter(IdIn("session_id", session_ids))
        active = active.filter(IdIn("session_id", session_ids))
    if invalid:
        qualifying = qualifying.exclude(IdIn("session_id", invalid))
    winners = (
        qualifying.annotate(
            rank=Window(RowNumber(), partition_by=F("session_id"), order_by=[F("starts_at").desc(), F("id").desc()])
        )
        .filter(rank=1)
        .values("pk")
    )
    columns = ("id", "session_id", "session__name")
    to_activate = list(SessionInstance.objects.filter(pk__in=winners, is_active=False).values_list(*columns))
    to_deactivate = list(active.exclude(pk__in=winners).values_list(*columns))
    if to_deactivate:
        SessionInstance.objects.filter(IdIn("id", [pk for pk, _, _ in to_deactivate])).update(is_active=False)
    if to_activate:
        SessionInstance.objects.filter(IdIn("id", [pk for pk, _, _ in to_activate])).update(is_active=True)

    def describe(rows):
        return [{"session_id": sid, "instance_id": pk, "session_name": name} for pk, sid, name in sorted(rows)]

    return describe(to_activate), describe(to_deactivate)
