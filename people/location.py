"""Where each person is right now (SPEC 3.4), recomputed set-based for the people a
change affects. Called by the sweep inside its transaction; never reads the clock.

The rule, for every affected person:
- the location is null or an *active* instance where the person's answer is ``yes``;
- a location that still satisfies that is kept (people stay where they are, and an
  explicit check-in elsewhere sticks);
- otherwise it is the active ``yes`` instance that starts first (UTC instants, across
  timezones), ties to the most recent ``checked_in_at``, then the higher instance id.

Cost: at most six statements (in full sweeps only, people placed where they have no active
``yes``; people at deactivated instances; people answering yes to activated ones; the
current locations of the rest; those people's active ``yes`` answers; one update of the
people who actually move), each linear in the number of people affected.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Exists, OuterRef

from people.models import Attendance, Person
from sessions_app.db import IdIn, assign_foreign_keys


def _sort_key(candidate: tuple) -> tuple:
    """Order: starts first, then most recent check-in, then higher instance id."""
    instance_id, starts_at, checked_in_at = candidate
    checked = checked_in_at.timestamp() if checked_in_at else float("-inf")
    # An instance activated by hand in the admin may have no window: it sorts last.
    start = starts_at.timestamp() if starts_at else float("inf")
    return (start, -checked, -instance_id)


def people_concerned_by(instance_id: int) -> set[int]:
    """The people whose location may depend on one instance: those placed there and
    those who answered yes to it."""
    here = Person.objects.filter(at_active_session_instance_id=instance_id).values_list("id", flat=True)
    going = Attendance.objects.filter(session_instance_id=instance_id, status=Attendance.Status.YES).values_list(
        "person_id", flat=True
    )
    return {*here, *going}


def relocate_people(
    *,
    activated_ids: Collection[int] = (),
    deactivated_ids: Collection[int] = (),
    person_ids: Collection[int] = (),
    repair_all: bool = False,
) -> list[dict]:
    """Re-place the people touched by these activation changes, plus ``person_ids``, plus
    (``repair_all``, full sweeps) everyone whose location no longer satisfies the rule.

    Returns one ``{"person_id", "from_instance_id", "to_instance_id"}`` per person whose
    location changed, and writes only those people.
    """
    current: dict[int, int | None] = {}
    if repair_all:
        # A full sweep also re-places anyone whose location broke the rule without a hook
        # seeing it (an answer changed by a bulk update, a hook that failed): one anti-join
        # over the people who are somewhere (partial index).
        current.update(
            Person.objects.filter(at_active_session_instance__isnull=False)
            .exclude(
                Exists(
                    Attendance.objects.filter(
                        person=OuterRef("pk"),
                        session_instance=OuterRef("at_active_session_instance"),
                        status=Attendance.Status.YES,
                        left_at__isnull=True,
                        session_instance__is_active=True,
                    )
                )
            )
            .order_by()
            .values_list("id", "at_active_session_instance_id")
        )
    if deactivated_ids:
        current.update(
            Person.objects.filter(IdIn("at_active_session_instance_id", deactivated_ids))
            .order_by()  # not the model's name ordering: a sort of every row affected
            .values_list("id", "at_active_session_instance_id")
        )
    newcomers = set(person_ids)
    if activated_ids:
        newcomers.update(
            Attendance.objects.filter(
                IdIn("session_instance_id", activated_ids), status=Attendance.Status.YES, left_at__isnull=True
            )
            .values_list("person_id", flat=True)
        )
    newcomers.difference_update(current)
    if newcomers:
        current.update(
            Person.objects.filter(IdIn("id", newcomers)).order_by().values_list("id", "at_active_session_instance_id")
        )
    if not current:
        return []

    candidates: dict[int, list[tuple]] = {}
    rows = (
        Attendance.objects.filter(
            IdIn("person_id", current), status=Attendance.Status.YES, left_at__isnull=True,
            session_instance__is_active=True,
        )
        .values_list("person_id", "session_instance_id", "session_instance__starts_at", "checked_in_at")
    )
    for person_id, instance_id, starts_at, checked_in_at in rows:
        candidates.setdefault(person_id, []).append((instance_id, starts_at, checked_in_at))

    moves: dict[int, int | None] = {}
    for person_id, location in current.items():
        options = candidates.get(person_id, [])
        if location is not None and any(instance_id == location for instance_id, _, _ in options):
            continue
        target = min(options, key=_sort_key)[0] if options else None
        if target != location:
            moves[person_id] = target
    assign_foreign_keys(Person, "at_active_session_instance", moves)
    return [
        {"person_id": person_id, "from_instance_id": current[person_id], "to_instance_id": target}
        for person_id, target in sorted(moves.items())
    ]
