from django.contrib import admin

from people.models import Attendance, Person
from sessions_app.admin import local


class AttendanceInline(admin.TabularInline):
    model = Attendance
    fields = ["session_instance", "status", "checked_in_at"]
    readonly_fields = ["checked_in_at"]
    autocomplete_fields = ["session_instance"]
    extra = 0


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "city", "country", "share_location", "where_now"]
    list_filter = ["country", "city", "share_location", ("at_active_session_instance", admin.EmptyFieldListFilter)]
    search_fields = ["first_name", "last_name", "email", "city", "user__username"]
    list_select_related = ["at_active_session_instance__session", "user"]
    autocomplete_fields = ["user", "at_active_session_instance"]
    inlines = [AttendanceInline]

    @admin.display(description="At session now", ordering="at_active_session_instance")
    def where_now(self, obj: Person) -> str:
        instance = obj.at_active_session_instance
        if instance is None:
            return "—"
        return f"{instance.session.name} (since {local(instance.starts_at, instance.session)})"


@admin.register(Attendance)
class AttendanceAdmin(admin.ModelAdmin):
    list_display = ["person", "session_instance", "status", "checked_in_at"]
    list_filter = ["status", "session_instance__is_active", "session_instance__session__city"]
    search_fields = ["person__first_name", "person__last_name", "session_instance__session__name"]
    list_select_related = ["person", "session_instance__session"]
    autocomplete_fields = ["person", "session_instance"]
    readonly_fields = ["checked_in_at"]
