"""Event hooks (SPEC 5) for sessions and instances: thin receivers that re-evaluate the
one session a write touched, on commit, through the same service as the sweep. The
attendance hooks are ``people.signals``.

The derived UTC window columns are not written here: ``SessionInstance.save()`` keeps
them current synchronously. Fixture loading (``raw=True``) and the sweep's own writes
do nothing.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sessions_app import active_sessions
from sessions_app.models import Session, SessionInstance


def _on_commit_session(session_id: int) -> None:
    # robust: the write that fired the hook is committed; a failed evaluation is logged
    # (by Django) instead of turning that write into an error, and the hourly full sweep catches up.
    transaction.on_commit(lambda: active_sessions.reevaluate_session(session_id), robust=True)


@receiver(post_save, sender=Session, dispatch_uid="ceol_session_saved")
def session_saved(sender, instance: Session, raw=False, **kwargs):
    if raw or active_sessions.hooks_suppressed():
        return
    _on_commit_session(instance.pk)


@receiver(post_save, sender=SessionInstance, dispatch_uid="ceol_instance_saved")
def instance_saved(sender, instance: SessionInstance, raw=False, created=False, **kwargs):
    if raw or active_sessions.hooks_suppressed():
        return
    if not created and instance.changed_fields() <= {"is_active"}:
        # Nothing but a hand-set is_active (admin override, SPEC 3.7): re-evaluating the
        # session now would undo the override at once, so the next evaluation decides.
        # The people concerned follow the override now, so nobody stays at an inactive one.
        if instance.changed_fields():
            instance_id = instance.pk
            transaction.on_commit(lambda: active_sessions.reevaluate_people_of_instance(instance_id), robust=True)
        return
    _on_commit_session(instance.session_id)


@receiver(post_delete, sender=SessionInstance, dispatch_uid="ceol_instance_deleted")
def instance_deleted(sender, instance: SessionInstance, **kwargs):
    # Another instance of the session may take over. The people who were here need no
    # bookkeeping: anyone placed here answered yes, and the cascade deleting that answer
    # fires attendance_changed for them.
    if active_sessions.hooks_suppressed():
        return
    _on_commit_session(instance.session_id)
