"""The "limit": the sweep's activation and person steps as hand-tuned raw SQL for
PostgreSQL, three statements in one transaction, doing the full job of a sweep that
heals (SPEC section 4): every person who is somewhere or has a live ``yes`` is checked
against the rule, whatever changed.

It does only what the project's activation and person steps do — no auto-create, no
invalid-timezone report, no ``SweepRun`` — so it is the floor the project is measured
against, not a replacement.

- the winners per session are ranked once with ``DISTINCT ON`` over the index range
  ``t - MAX_WINDOW < active_from <= t``;
- deactivate, then activate (the one-active-per-session index holds at every
  statement), each ``UPDATE ... RETURNING`` the ids it changed;
- the people who are somewhere, or have a ``yes`` (not left) for an active instance, get
  their active ``yes`` answers ranked — their current location first when it still qualifies
  (stay put), then earliest start, latest check-in, higher id — and are written in one
  ``UPDATE ... FROM`` only when their location actually changes. The ranking is a
  ``LATERAL ... LIMIT 1`` per affected person, not a ``DISTINCT ON`` over a join: right
  after a busy flip the statistics say "no active instances", and the planner then
  nests a loop over a materialised join of all active instances' answers for every
  affected person (measured: 7 s at 1,000 sessions). In the lateral form, with
  ``is_active IS TRUE`` hiding the partial indexes on ``is_active`` (a lateral driven
  from them scans every active instance per person: 5 s), the only cheap path runs from
  the person's own answers (index on ``person_id``) to the instances by primary key:
  linear in the people affected whatever the estimates.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import Session, SessionInstance
from sessions_app.windows import MAX_WINDOW, valid_timezone_names

INSTANCE = SessionInstance._meta.db_table
SESSION = Session._meta.db_table
PERSON = Person._meta.db_table
ATTENDANCE = Attendance._meta.db_table

WINNERS = f"""
WITH winner AS (
    SELECT DISTINCT ON (i.session_id) i.id
    FROM {INSTANCE} i JOIN {SESSION} s ON s.id = i.session_id
    WHERE i.active_from <= %(t)s AND i.active_from > %(lowest)s AND i.active_until > %(t)s
      AND NOT i.is_cancelled
      AND (s.termination_date IS NULL OR i.date <= s.termination_date)
      AND s.timezone = ANY(%(zones)s::text[])
    ORDER BY i.session_id, i.starts_at DESC, i.id DESC
)"""

DEACTIVATE = f"""{WINNERS}
UPDATE {INSTANCE} SET is_active = false
WHERE is_active AND id NOT IN (SELECT id FROM winner)
RETURNING id"""

ACTIVATE = f"""{WINNERS}
UPDATE {INSTANCE} i SET is_active = true
FROM winner w WHERE i.id = w.id AND NOT i.is_active
RETURNING i.id"""

RELOCATE = f"""
WITH affected AS (
    SELECT id AS person_id FROM {PERSON} WHERE at_active_session_instance_id IS NOT NULL
    UNION
    SELECT a.person_id FROM {INSTANCE} i JOIN {ATTENDANCE} a ON a.session_instance_id = i.id
    WHERE i.is_active AND a.status = 'yes' AND a.left_at IS NULL
), placed AS (
    SELECT p.id, p.at_active_session_instance_id AS here, best.session_instance_id AS there
    FROM affected f
    JOIN {PERSON} p ON p.id = f.person_id
    LEFT JOIN LATERAL (
        SELECT a.session_instance_id
        FROM {ATTENDANCE} a JOIN {INSTANCE} i ON i.id = a.session_instance_id
        WHERE a.person_id = p.id AND a.status = 'yes' AND a.left_at IS NULL AND i.is_active IS TRUE
        ORDER BY (a.session_instance_id = p.at_active_session_instance_id) DESC NULLS LAST,
                 i.starts_at ASC NULLS LAST, a.checked_in_at DESC NULLS LAST, i.id DESC
        LIMIT 1
    ) best ON true
)
UPDATE {PERSON} p SET at_active_session_instance_id = placed.there
FROM placed WHERE p.id = placed.id AND placed.here IS DISTINCT FROM placed.there
RETURNING p.id"""


def limit_sweep(now: datetime) -> dict:
    """Activation and person steps at ``t = now + lookahead``; returns the changed ids."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("The raw SQL limit is written for PostgreSQL.")
    t = clock.evaluation_instant(now)
    window: dict[str, datetime | list[str]] = {
        "t": t,
        "lowest": t - MAX_WINDOW,
        "zones": sorted(valid_timezone_names()),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DEACTIVATE, window)
        deactivated = [row[0] for row in cursor.fetchall()]
        cursor.execute(ACTIVATE, window)
        activated = [row[0] for row in cursor.fetchall()]
        cursor.execute(RELOCATE)
        moved = [row[0] for row in cursor.fetchall()]
    return {"activated": activated, "deactivated": deactivated, "people_moved": moved}
