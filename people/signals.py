"""Event hooks for answers (SPEC 5): saving or deleting an attendance re-evaluates that
person (both people when an answer moves between them), on commit, with the sweep's
rules. Fixture loading (``raw=True``) and the sweep's own writes do nothing. Connected in
``PeopleConfig.ready``."""

from __future__ import annotations

from sessions_app import active_sessions
from sessions_app.hooks import hooks_suppressed


def attendance_changed(sender, instance, raw=False, **kwargs):
    if raw or hooks_suppressed():
        return
    # Both people when an answer moves from one person to another.
    person_ids = sorted({instance.person_id, getattr(instance, "loaded", {}).get("person_id", instance.person_id)})
    active_sessions.reevaluate_on_commit(f"person {', '.join(map(str, person_ids))}", person_ids=person_ids)
