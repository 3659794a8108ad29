"""Event hooks (SPEC 5) for sessions, slots and instances: thin receivers that re-evaluate
the one session a write touched, on commit, through the same service as the sweep
(``active_sessions.reevaluate_on_commit``). The attendance hooks are ``people.signals``.

They only make a change immediate: the next sweep would make it anyway. So a hook that
fails (the database went away, a lock timed out) is one ERROR line naming what it was
for, and the write that fired it stands. The derived UTC window columns are not written
here: ``SessionInstance.save()`` keeps them current synchronously. Fixture loading
(``raw=True``) and the sweep's own writes do nothing.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from sessions_app import active_sessions, clock
from sessions_app.hooks import hooks_suppressed
from sessions_app.models import Session, SessionInstance, SessionSchedule


@receiver(post_save, sender=Session, dispatch_uid="ceol_session_saved")
def session_saved(sender, instance: Session, raw=False, **kwargs):
    if raw or hooks_suppressed():
        return
    active_sessions.reevaluate_on_commit(f"session {instance.pk}", session_ids=[instance.pk])


@receiver(post_save, sender=SessionSchedule, dispatch_uid="ceol_schedule_saved")
@receiver(post_delete, sender=SessionSchedule, dispatch_uid="ceol_schedule_deleted")
def schedule_changed(sender, instance: SessionSchedule, raw=False, **kwargs):
    # The save or deletion restarted the session's horizon; this makes it happen now.
    if raw or hooks_suppressed():
        return
    active_sessions.reevaluate_on_commit(f"session {instance.session_id}", session_ids=[instance.session_id])


@receiver(pre_delete, sender=SessionSchedule, dispatch_uid="ceol_schedule_deleting")
def schedule_deleting(sender, instance: SessionSchedule, **kwargs):
    # Inside the deleting transaction, while the instances still name their slot: the
    # deletion sets ``schedule`` to null, and then nobody can tell which slot they were.
    instance.release_instances(clock.now())


@receiver(post_save, sender=SessionInstance, dispatch_uid="ceol_instance_saved")
def instance_saved(sender, instance: SessionInstance, raw=False, created=False, **kwargs):
    if raw or hooks_suppressed():
        return
    if not created and instance.changed_fields() <= {"is_active"}:
        # Nothing but a hand-set is_active (admin override, SPEC 3.7): re-evaluating the
        # session now would undo the override at once, so the next evaluation decides.
        # The people concerned follow the override now, so nobody stays at an inactive one.
        if instance.changed_fields():
            active_sessions.reevaluate_on_commit(
                f"the people of instance {instance.pk}", people_of_instance=instance.pk
            )
        return
    # An instance moved to another session: both sessions' winners may change.
    sessions = sorted({instance.session_id, getattr(instance, "loaded", {}).get("session_id", instance.session_id)})
    active_sessions.reevaluate_on_commit(f"session {', '.join(map(str, sessions))}", session_ids=sessions)


@receiver(post_delete, sender=SessionInstance, dispatch_uid="ceol_instance_deleted")
def instance_deleted(sender, instance: SessionInstance, **kwargs):
    # Another instance of the session may take over. The people who were here are
    # re-placed through the cascade deleting their answers (attendance_changed).
    if hooks_suppressed():
        return
    active_sessions.reevaluate_on_commit(f"session {instance.session_id}", session_ids=[instance.session_id])
