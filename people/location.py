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

The data decides, not the path it came by. A full evaluation (the sweep) first copies
the *live answers* — every ``yes`` not left for an active instance, read from the active
instances' answers, so its size is what is live now and not anyone's history — into an
indexed temporary table. Then one statement finds the people the rule can move (someone
placed where they have no live answer; someone nowhere who has one: two index probes
each), ranks their live answers and writes only those who move; a steady sweep moves
nobody and fetches nothing. Every join either probes an index or can be a hash join, so
no planner estimate (they lag behind right after a busy flip) can make it quadratic.
A scoped evaluation (hooks, services) does the same for a few listed people in one
statement, from their own answers.
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

_LIVE = "ceol_live_answers"  # the temporary table of a full evaluation (dropped at its end)

# Order of a person's live answers: starts first (unknown starts last), then the most
# recent check-in (none last), then the higher instance id. Portable NULL handling.
_RANK = """ROW_NUMBER() OVER (PARTITION BY {person} ORDER BY
        CASE WHEN {starts} IS NULL THEN 1 ELSE 0 END, {starts},
        CASE WHEN {checked} IS NULL THEN 1 ELSE 0 END, {checked} DESC, {instance} DESC)"""

_LIVE_ANSWERS = f"""
    CREATE TEMPORARY TABLE {_LIVE} AS
    SELECT a.person_id AS person_id, a.session_instance_id AS instance_id, i.starts_at AS starts_at,
           a.checked_in_at AS checked_in_at
    FROM {_INSTANCE} i JOIN {_ATTENDANCE} a ON a.session_instance_id = i.id
    WHERE i.is_active AND a.status = '{_YES}' AND a.left_at IS NULL"""

# Everyone the rule can move: people placed where they have no live answer (an index
# probe each) and people nowhere who have one. Everyone else stays put by rule.
_EVERYONE_RANKED = f"""
    WITH looked_at AS (
        SELECT p.id AS id, p.at_active_session_instance_id AS here FROM {_PERSON} p
        WHERE p.at_active_session_instance_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {_LIVE} l WHERE l.person_id = p.id AND l.instance_id = p.at_active_session_instance_id
        )
        UNION ALL
        SELECT DISTINCT l.person_id AS id, CAST(NULL AS BIGINT) AS here
        FROM {_LIVE} l JOIN {_PERSON} p ON p.id = l.person_id
        WHERE p.at_active_session_instance_id IS NULL
    ), ranked AS (
        SELECT f.id AS id, f.here AS here, l.instance_id AS there,
               {_RANK.format(person="f.id", starts="l.starts_at", checked="l.checked_in_at", instance="l.instance_id")}
               AS rank
        FROM looked_at f LEFT JOIN {_LIVE} l ON l.person_id = f.id
    )"""

# The listed people's own live answers; a location still among them is kept (stay-put).
_LISTED_RANKED = f"""
    WITH looked_at AS (
        SELECT p.id AS id, p.at_active_session_instance_id AS here FROM {_PERSON} p WHERE p.id IN ({{ids}})
    ), live AS (
        SELECT a.person_id AS person_id, a.session_instance_id AS instance_id, i.starts_at AS starts_at,
               a.checked_in_at AS checked_in_at
        FROM looked_at f
        JOIN {_ATTENDANCE} a ON a.person_id = f.id AND a.status = '{_YES}' AND a.left_at IS NULL
        JOIN {_INSTANCE} i ON i.id = a.session_instance_id AND i.is_active
    ), ranked AS (
        SELECT f.id AS id, f.here AS here, COALESCE(stay.instance_id, l.instance_id) AS there,
               {_RANK.format(person="f.id", starts="l.starts_at", checked="l.checked_in_at", instance="l.instance_id")}
               AS rank
        FROM looked_at f
        LEFT JOIN live stay ON stay.person_id = f.id AND stay.instance_id = f.here
        LEFT JOIN live l ON l.person_id = f.id
    )"""

_LISTED_IDS = {"postgresql": "SELECT unnest(%s::bigint[])", "sqlite": "SELECT value FROM json_each(%s)"}


def _moves(cursor, ranked_sql: str, params: list) -> list[tuple]:
    """Write and return ``(person_id, here, there)`` for the ranked people who move."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"{ranked_sql} UPDATE {_PERSON} p SET at_active_session_instance_id = r.there FROM ranked r "
            "WHERE r.rank = 1 AND p.id = r.id AND r.here IS DISTINCT FROM r.there "
            "RETURNING p.id, r.here, r.there",
            params,
        )
        return cursor.fetchall()
    cursor.execute(
        f"{ranked_sql} SELECT id, here, there FROM ranked WHERE rank = 1 AND COALESCE(here, 0) <> COALESCE(there, 0)",
        params,
    )
    rows = cursor.fetchall()
    assign_foreign_keys(Person, "at_active_session_instance", {pk: there for pk, _, there in rows})
    return rows


def relocate_people(*, everyone: bool = False, person_ids: Collection[int] = ()) -> list[dict]:
    """Apply the person rule to everyone it can move (``everyone=True``: the sweep) or to
    ``person_ids``.

    Returns one ``{"person_id", "from_instance_id", "to_instance_id"}`` per person whose
    location changed, sorted by person, and writes only those people. A full evaluation
    is five statements on PostgreSQL (the live answers into an indexed temporary table,
    the moves computed and written in one, the table dropped) and six on SQLite (which
    cannot return joined values from an update); a scoped one is one and two.
    """
    if not everyone and not person_ids:
        return []
    with connection.cursor() as cursor:
        if everyone:
            cursor.execute(_LIVE_ANSWERS)
            cursor.execute(f"CREATE INDEX {_LIVE}_person ON {_LIVE} (person_id, instance_id)")
            # A failure rolls the table back with everything else.
            rows = _moves(cursor, _EVERYONE_RANKED, [])
            cursor.execute(f"DROP TABLE {_LIVE}")
        else:
            ranked = _LISTED_RANKED.replace("{ids}", _LISTED_IDS[connection.vendor])
            rows = _moves(cursor, ranked, [_id_list_param(person_ids)])
    return [{"person_id": pk, "from_instance_id": here, "to_instance_id": there} for pk, here, there in sorted(rows)]


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
