from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from people import signals
        from people.models import Attendance

        # Same dispatch_uids as before the hooks moved here from sessions_app.
        post_save.connect(signals.attendance_changed, sender=Attendance, dispatch_uid="ceol_attendance_saved")
        post_delete.connect(signals.attendance_changed, sender=Attendance, dispatch_uid="ceol_attendance_deleted")
