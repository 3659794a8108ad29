"""Event hooks for answers (SPEC 5): saving or deleting an attendance re-evaluates that
person (both people when an answer moves between them), on commit, with the sweep's
rules. Fixture loading (``raw=True``) and the sweep's own writes do nothing."""

from django.db import transaction

from sessions_app import active_sessions


def attendance_changed(sender, instance, raw=False, **kwargs):
    if raw or active_sessions.hooks_suppressed():
        return
    person_ids = {instance.person_id, getattr(instance, "loaded", {}).get("person_id", instance.person_id)}
    transaction.on_commit(lambda: active_sessions.reevaluate_people(sorted(person_ids)), robust=True)
