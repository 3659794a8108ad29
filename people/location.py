"""Where each person is right now (SPEC 3.4), recomputed in the database. Called by the
sweep and the person services inside their transaction, under the live-state lock; never
reads the clock.

The rule, for every person looked at:
- the location is null or an *active* instance where the person's answer is ``yes`` and
  they have not pressed "I've left" (``left_at`` empty);
- a location that still satisfies that is kept (people stay where they are, and an
  explicit check-in elsewhere sticks);
- otherwise it is the active ``yes`` instance (not left) that starts first (UTC
  instants, across timezones), ties to the most recent ``checked_in_at``, then the
  higher instance id; none: null.

The data decides, not the path it came by: a full evaluation checks everyone who is
somewhere (partial index) and everyone with a live ``yes`` (the active instances'
answers), so a ``yes`` written by ``bulk_create``, ``loaddata`` or SQL, or a location set
by hand, is put right like any other. One statement finds the people the rule can move
(someone whose location still holds stays put, so only a broken location or a person
nowhere with a live ``yes`` needs a target), computes their targets and returns only
those who move (a steady sweep fetches nothing); on PostgreSQL the same statement
writes them. The target is a correlated ``ORDER BY ... LIMIT 1`` over the
person's own answers (index on ``person_id``) joined to instances by primary key, with
``is_active IS TRUE`` so that no planner estimate can turn it into a scan of every
active instance per person: linear in the people looked at, whatever the statistics
say right after a busy flip.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from django.db import connection

from people.models import Attendance, Person
from sessions_app.db import IdIn, assign_foreign_keys
from sessions_app.models import SessionInstance

_PERSON = Person._meta.db_table
_ATTENDANCE = Attendance._meta.db_table
_INSTANCE = SessionInstance._meta.db_table
_YES = Attendance.Status.YES.value

# Everyone the rule can move: people somewhere whose location no longer satisfies it (two
# index probes each: their answer there, the instance by primary key), and people nowhere
# with a live ``yes`` (the active instances' answers). Everyone else stays put by rule.
_EVERYONE = f"""
    SELECT p.id FROM {_PERSON} p
    WHERE p.at_active_session_instance_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {_ATTENDANCE} a JOIN {_INSTANCE} i ON i.id = a.session_instance_id
        WHERE a.person_id = p.id AND a.session_instance_id = p.at_active_session_instance_id
          AND a.status = '{_YES}' AND a.left_at IS NULL AND i.is_active IS TRUE
    )
    UNION
    SELECT a.person_id
    FROM {_INSTANCE} i
    JOIN {_ATTENDANCE} a ON a.session_instance_id = i.id
    JOIN {_PERSON} p ON p.id = a.person_id
    WHERE i.is_active AND a.status = '{_YES}' AND a.left_at IS NULL AND p.at_active_session_instance_id IS NULL"""

_LISTED = {
    "postgresql": "SELECT unnest(%s::bigint[]) AS id",
    "sqlite": "SELECT value AS id FROM json_each(%s)",
}

_PLACED = f"""
    SELECT p.id AS id, p.at_active_session_instance_id AS here, (
        SELECT c.instance_id FROM (
            SELECT a.session_instance_id AS instance_id, i.starts_at AS starts_at, a.checked_in_at AS checked_in_at,
                   CASE WHEN a.session_instance_id = p.at_active_session_instance_id THEN 0 ELSE 1 END AS moves
            FROM {_ATTENDANCE} a JOIN {_INSTANCE} i ON i.id = a.session_instance_id
            WHERE a.person_id = p.id AND a.status = '{_YES}' AND a.left_at IS NULL AND i.is_active IS TRUE
        ) c
        ORDER BY c.moves, CASE WHEN c.starts_at IS NULL THEN 1 ELSE 0 END, c.starts_at,
                 CASE WHEN c.checked_in_at IS NULL THEN 1 ELSE 0 END, c.checked_in_at DESC, c.instance_id DESC
        LIMIT 1
    ) AS there
    FROM looked_at f JOIN {_PERSON} p ON p.id = f.id"""
# (SQLite cannot refer to an outer column in a subquery's ORDER BY: the stay-put key is
# computed in a derived table first; PostgreSQL flattens it into the same plan.)


def _moves_sql(*, everyone: bool) -> str:
    looked_at = _EVERYONE if everyone else _LISTED[connection.vendor]
    # MATERIALIZED: each target is computed once, not again for the write.
    head = f"WITH looked_at AS ({looked_at}), placed AS MATERIALIZED ({_PLACED})"
    if connection.vendor == "postgresql":
        return (
            f"{head} UPDATE {_PERSON} p SET at_active_session_instance_id = placed.there FROM placed "
            "WHERE p.id = placed.id AND placed.here IS DISTINCT FROM placed.there "
            "RETURNING p.id, placed.here, placed.there"
        )
    return f"{head} SELECT id, here, there FROM placed WHERE COALESCE(here, 0) <> COALESCE(there, 0)"


def relocate_people(*, everyone: bool = False, person_ids: Collection[int] = ()) -> list[dict]:
    """Apply the person rule to everyone who can need it (``everyone=True``: people who
    are somewhere or have a live ``yes``) or to ``person_ids``.

    Returns one ``{"person_id", "from_instance_id", "to_instance_id"}`` per person whose
    location changed, sorted by person, and writes only those people. One statement on
    PostgreSQL, two on SQLite (which cannot return the joined values from an update).
    """
    if not everyone and not person_ids:
        return []
    params = [] if everyone else [_id_list_param(person_ids)]
    with connection.cursor() as cursor:
        cursor.execute(_moves_sql(everyone=everyone), params)
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        assign_foreign_keys(Person, "at_active_session_instance", {pk: there for pk, _, there in rows})
    return [
        {"person_id": pk, "from_instance_id": here, "to_instance_id": there} for pk, here, there in sorted(rows)
    ]


def _id_list_param(ids: Collection[int]):
    values = IdIn.normalise(ids)
    return values if connection.vendor == "postgresql" else json.dumps(values)


def people_of_sessions(session_ids: Collection[int]) -> set[int]:
    """The people whose location can depend on these sessions' activation: those placed at
    one of their instances and those with a live ``yes`` for an active one. Two reads
    through the partial index on locations and the answers of active instances."""
    if not session_ids:
        return set()
    here = Person.objects.filter(
        at_active_session_instance__isnull=False, at_active_session_instance__session_id__in=list(session_ids)
    ).values_list("id", flat=True)
    going = Attendance.objects.filter(
        IdIn("session_instance__session_id", session_ids),
        session_instance__is_active=True,
        status=Attendance.Status.YES,
        left_at__isnull=True,
    ).values_list("person_id", flat=True)
    return {*here, *going}


def people_concerned_by(instance_id: int) -> set[int]:
    """The people whose location may depend on one instance: those placed there and
    those who answered yes to it."""
    here = Person.objects.filter(at_active_session_instance_id=instance_id).values_list("id", flat=True)
    going = Attendance.objects.filter(session_instance_id=instance_id, status=Attendance.Status.YES).values_list(
        "person_id", flat=True
    )
    return {*here, *going}
