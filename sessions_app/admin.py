"""Admin for manual overrides: sessions with their instances inline, instances with
their windows in the session's local time, and the read-only sweep log."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef
from django.template.response import TemplateResponse
from django.urls import path

from sessions_app import clock
from sessions_app import health as health_selectors
from sessions_app.active_sessions import SweepFailed, reevaluate
from sessions_app.health import sweep_health
from sessions_app.models import Session, SessionInstance, SessionSchedule, SweepRun

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

RECENT_DAYS = 30


def local(instant, session: Session) -> str:
    """An instant in the session's zone, e.g. ``2026-01-15 21:00 GMT``; ``—`` when unknown."""
    local_instant = session.on_wall_clock(instant)
    return local_instant.strftime("%Y-%m-%d %H:%M %Z") if local_instant else "—"


def with_slot_label(instances):
    """The slot's label without loading the slot (whose stored rules may not parse)."""
    return instances.annotate(slot_label=F("schedule__label"))


def slot_name(instance: SessionInstance) -> str:
    if instance.schedule_id is None:
        return "main" if instance.auto_created else "—"
    label = getattr(instance, "slot_label", None)
    return f"{label} (slot {instance.schedule_id})" if label else f"slot {instance.schedule_id}"


class InstanceForm(forms.ModelForm):
    class Meta:
        model = SessionInstance
        fields = ["session", "date", "start_time", "end_time", "location_override", "is_cancelled", "is_active"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        session = cleaned.get("session") or getattr(self.instance, "session", None)
        if cleaned.get("is_active") and session is not None and session.pk:
            others = SessionInstance.objects.filter(session=session, is_active=True).exclude(pk=self.instance.pk)
            other = others.first()
            if other is not None:
                raise forms.ValidationError(
                    f"Another instance of this session is active ({other.date:%Y-%m-%d}). "
                    "Only one instance per session can be active: untick that one first."
                )
        return cleaned


class InstanceFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        active = [f for f in self.forms if f.cleaned_data.get("is_active") and not f.cleaned_data.get("DELETE")]
        if len(active) > 1:
            raise forms.ValidationError("Only one instance of a session can be active at a time.")


class ScheduleInline(admin.StackedInline):
    """Further time slots, edited with the django-recurrence widget; the session's own
    rules and times above are its main slot."""

    model = SessionSchedule
    fields = ["label", "recurrence", "start_time", "end_time"]
    extra = 0
    verbose_name_plural = "Further time slots (same venue, zone, first and last date)"
    # A slot whose stored rules cannot be read loads as an unreadable value (sessions_app.fields):
    # its form shows the stored text and the reason above the editor, so staff can fix it.


class InstanceInline(admin.TabularInline):
    model = SessionInstance
    form = InstanceForm
    formset = InstanceFormSet
    fields = [
        "date",
        "start_time",
        "end_time",
        "location_override",
        "is_cancelled",
        "is_active",
        "auto_created",
        "slot",
        "local_window",
    ]
    readonly_fields = ["auto_created", "slot", "local_window"]
    extra = 0
    ordering = ["-date", "-start_time"]
    show_change_link = True

    def get_queryset(self, request):
        # Recent and upcoming instances only: a weekly session gathers hundreds over the
        # years; older ones are in the instance list (filter by session).
        since = clock.now().date() - timedelta(days=RECENT_DAYS)
        return with_slot_label(super().get_queryset(request).select_related("session").filter(date__gte=since))

    @admin.display(description="Time slot")
    def slot(self, obj: SessionInstance) -> str:
        return slot_name(obj) if obj.pk else "—"

    @admin.display(description="Active window (local)")
    def local_window(self, obj: SessionInstance) -> str:
        if obj.pk is None or obj.active_from is None:
            return "—"
        return f"{local(obj.active_from, obj.session)} → {local(obj.active_until, obj.session)}"


@admin.action(description="Re-evaluate the selected sessions now")
def reevaluate_sessions(modeladmin, request, queryset):
    ids = list(queryset.values_list("pk", flat=True))
    try:
        result = reevaluate(session_ids=ids, trigger=SweepRun.Trigger.ADMIN)
    except SweepFailed as exc:
        modeladmin.message_user(request, f"Evaluation failed: {exc}", messages.ERROR)
        return
    modeladmin.message_user(
        request,
        f"Evaluated at {result['evaluated_at']}: {len(result['activated'])} activated, "
        f"{len(result['deactivated'])} deactivated, "
        f"{sum(c['instances_created'] for c in result['auto_created'])} auto-created, "
        f"{len(result['people_moved'])} people moved, {len(result['errors'])} errors.",
        messages.WARNING if result["errors"] else messages.SUCCESS,
    )
    for error in result["errors"]:
        modeladmin.message_user(request, f"Session {error['session_id']}: {error['error']}", messages.WARNING)


class LiveFilter(admin.SimpleListFilter):
    title = "live now"
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return [("yes", "Live now"), ("no", "Not live")]

    def queryset(self, request, queryset):
        live = Exists(SessionInstance.objects.filter(session=OuterRef("pk"), is_active=True))
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


class IsLive(TypedDict):
    is_live: bool


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "venue_name",
        "city",
        "country",
        "timezone",
        "local_times",
        "live",
        "auto_create_instances",
        "termination_date",
    ]
    list_filter = [LiveFilter, "country", "city", "timezone", "auto_create_instances"]
    search_fields = ["name", "slug", "venue_name", "city", "address"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ScheduleInline, InstanceInline]
    actions = [reevaluate_sessions]
    readonly_fields = ["created_at", "auto_created_until", "auto_create_due_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "venue_name",
                    "address",
                    "city",
                    "country",
                    "timezone",
                    "latitude",
                    "longitude",
                ]
            },
        ),
        (
            "Schedule (local wall-clock time in the session's timezone)",
            {
                "fields": ["recurrence", "initiation_date", "start_time", "end_time", "termination_date"],
            },
        ),
        ("Activation", {"fields": ["active_buffer_minutes_before", "active_buffer_minutes_after"]}),
        (
            "Auto-create",
            {
                "fields": [
                    "auto_create_instances",
                    "auto_create_hours_ahead",
                    "auto_created_until",
                    "auto_create_due_at",
                ]
            },
        ),
        ("Record", {"fields": ["created_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        live = Exists(SessionInstance.objects.filter(session=OuterRef("pk"), is_active=True))
        return super().get_queryset(request).annotate(is_live=live)

    @admin.display(description="Local time")
    def local_times(self, obj: Session) -> str:
        if obj.start_time is None:
            return "—"
        return f"{obj.start_time:%H:%M}–{obj.end_time:%H:%M}" if obj.end_time else f"{obj.start_time:%H:%M}"

    @admin.display(description="Live now", boolean=True, ordering="is_live")
    def live(self, obj: WithAnnotations[Session, IsLive]) -> bool:
        return obj.is_live


@admin.register(SessionInstance)
class SessionInstanceAdmin(admin.ModelAdmin):
    form = InstanceForm
    list_display = [
        "session",
        "date",
        "start",
        "end",
        "location_override",
        "slot",
        "city",
        "country",
        "timezone",
        "is_active",
        "is_cancelled",
        "auto_created",
        "local_active_from",
        "local_active_until",
        "people_here_count",
    ]
    list_filter = ["is_active", "is_cancelled", "auto_created", "session__country", "session__city"]
    search_fields = ["session__name", "session__venue_name", "session__city"]
    date_hierarchy = "date"
    list_select_related = ["session"]
    ordering = ["-date", "-start_time"]
    readonly_fields = ["auto_created", "slot", "window_utc", "window_local"]
    autocomplete_fields = ["session"]
    actions = ["reevaluate"]

    def get_queryset(self, request):
        # People here counted in the list's one query (it was one query per row).
        return with_slot_label(super().get_queryset(request)).annotate(people_here_n=Count("people_here"))

    @admin.display(description="Time slot")
    def slot(self, obj: SessionInstance) -> str:
        return slot_name(obj)

    @admin.display(description="Start (local)", ordering="start_time")
    def start(self, obj: SessionInstance) -> str:
        return f"{obj.start_time:%H:%M}" if obj.start_time else "—"

    @admin.display(description="End (local)", ordering="end_time")
    def end(self, obj: SessionInstance) -> str:
        return f"{obj.end_time:%H:%M}" if obj.end_time else "—"

    @admin.display(description="City", ordering="session__city")
    def city(self, obj: SessionInstance) -> str:
        return obj.session.city

    @admin.display(description="Country", ordering="session__country")
    def country(self, obj: SessionInstance) -> str:
        return obj.session.country

    @admin.display(description="Timezone", ordering="session__timezone")
    def timezone(self, obj: SessionInstance) -> str:
        return obj.session.timezone

    @admin.display(description="Active from (local)", ordering="active_from")
    def local_active_from(self, obj: SessionInstance) -> str:
        return local(obj.active_from, obj.session)

    @admin.display(description="Active until (local)", ordering="active_until")
    def local_active_until(self, obj: SessionInstance) -> str:
        return local(obj.active_until, obj.session)

    @admin.display(description="People here", ordering="people_here_n")
    def people_here_count(self, obj: SessionInstance) -> int:
        counted = getattr(obj, "people_here_n", None)  # annotated by get_queryset (the changelist)
        return obj.people_here.count() if counted is None else counted

    @admin.display(description="Window (UTC)")
    def window_utc(self, obj: SessionInstance) -> str:
        if obj.starts_at is None:
            return "unknown (no start/end time, or invalid timezone)"
        return (
            f"runs {obj.starts_at:%Y-%m-%d %H:%M} → {obj.ends_at:%Y-%m-%d %H:%M} UTC; "
            f"active {obj.active_from:%Y-%m-%d %H:%M} → {obj.active_until:%Y-%m-%d %H:%M} UTC"
        )

    @admin.display(description="Window (session's local time)")
    def window_local(self, obj: SessionInstance) -> str:
        if obj.starts_at is None:
            return "—"
        return (
            f"runs {local(obj.starts_at, obj.session)} → {local(obj.ends_at, obj.session)}; "
            f"active {local(obj.active_from, obj.session)} → {local(obj.active_until, obj.session)}"
        )

    @admin.action(description="Re-evaluate these instances' sessions now")
    def reevaluate(self, request, queryset):
        sessions = Session.objects.filter(pk__in=queryset.values("session_id"))
        reevaluate_sessions(self, request, sessions)


@admin.register(SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    change_list_template = "admin/sessions_app/sweeprun/change_list.html"
    list_display = [
        "started_at",
        "evaluated_at",
        "trigger",
        "status",
        "simulated",
        "activated_count",
        "deactivated_count",
        "auto_created_count",
        "people_moved_count",
        "duration_ms",
    ]
    list_filter = ["status", "trigger", "simulated"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Duration (ms)")
    def duration_ms(self, obj: SweepRun):
        return round(obj.duration.total_seconds() * 1000) if obj.duration else None

    def get_urls(self):
        health_url = path("health/", self.admin_site.admin_view(self.health_view), name="sessions_app_sweeprun_health")
        return [health_url, *super().get_urls()]

    def health_view(self, request):
        """The sweep at a glance: last success and its age, failures of the last 24 h, the
        recent runs, and the next week's instances per session. A fixed number of queries
        whatever the number of sessions (the per-session table is paginated)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = clock.now()
        health = sweep_health(now)
        failures = health_selectors.recent_failures(now)
        page = Paginator(health_selectors.upcoming_by_session(now), health_selectors.UPCOMING_SESSIONS_PER_PAGE)
        context = {
            **self.admin_site.each_context(request),
            "title": "Sweep health",
            "opts": self.model._meta,
            "health": health,
            "stale_after_minutes": int(health_selectors.SWEEP_STALE_AFTER.total_seconds() // 60),
            "failure_count": failures.count(),
            "failures": list(failures.order_by("-started_at")[: health_selectors.FAILURES_SHOWN]),
            "recent_runs": list(SweepRun.objects.order_by("-started_at")[: health_selectors.RECENT_RUNS_SHOWN]),
            "upcoming_days": health_selectors.UPCOMING_DAYS,
            "upcoming_totals": health_selectors.upcoming_totals(now),
            "upcoming_page": page.get_page(request.GET.get("page")),
        }
        return TemplateResponse(request, "admin/sessions_app/sweeprun/health.html", context)
