"""Players and their answers for session instances."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce

from sessions_app import clock
from sessions_app.models import (
    HasCountry,
    LiveStateQuerySet,
    LocksLiveState,
    ModelT,
    RowT,
    SessionInstance,
    TracksLoadedValues,
    country_validator,
)


def _sees_everyone(viewer) -> bool:
    return viewer is not None and getattr(viewer, "is_staff", False) and viewer.is_authenticated


def may_see_names(viewer) -> bool:
    """Logged-in members see names on answer lists; anonymous visitors see counts only (SPEC 3.8)."""
    return viewer is not None and viewer.is_authenticated


def location_visible_q(viewer, *, prefix: str = "") -> Q:
    """The privacy rule of SPEC 3.8 as one ``Q`` over people (``prefix`` reaches them
    from another model, e.g. ``"person__"``): whom ``viewer`` may be shown *at a live
    instance*. Staff see everyone, a person sees themselves, everyone else sees only
    the people who share their location. Anonymous visitors get counts of these, never
    names (see ``may_see_names``)."""
    if _sees_everyone(viewer):
        return Q()
    shared = Q(**{f"{prefix}share_location": True})
    if viewer is not None and viewer.is_authenticated:
        return shared | Q(**{f"{prefix}user_id": viewer.pk})
    return shared


def people_here_count(viewer):
    """A subquery for annotating instances: how many people ``viewer`` may see there
    (one index probe per instance: for a page's few instances)."""
    here = (
        Person.objects.filter(location_visible_q(viewer), at_active_session_instance=models.OuterRef("pk"))
        .order_by()
        .values("at_active_session_instance")
        .annotate(n=models.Count("pk"))
        .values("n")
    )
    return Coalesce(models.Subquery(here, output_field=models.IntegerField()), 0)


class PersonQuerySet(LiveStateQuerySet[ModelT, RowT]):
    def visible_at_live_instance_to(self, viewer):
        """People whom ``viewer`` may be shown at a live instance (SPEC 3.8)."""
        return self.filter(location_visible_q(viewer))

    def here_now(self, instance_id: int, viewer):
        """The people at a live instance whom ``viewer`` may see, by name."""
        return self.filter(at_active_session_instance_id=instance_id).visible_at_live_instance_to(viewer)


class AttendanceQuerySet(LiveStateQuerySet[ModelT, RowT]):
    def visible_to(self, viewer):
        """Answers ``viewer`` may see: every answer for an instance that is not live;
        at a live instance only those of people whom ``viewer`` may be shown there (SPEC
        3.8). Names still need ``may_see_names(viewer)``; anonymous pages show counts."""
        rule = location_visible_q(viewer, prefix="person__")
        if not rule:
            return self
        return self.filter(Q(session_instance__is_active=False) | rule)


class Person(LocksLiveState, HasCountry, TracksLoadedValues, models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="person"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[country_validator])
    share_location = models.BooleanField(default=True, help_text="Show others which session I am at")
    at_active_session_instance = models.ForeignKey(
        SessionInstance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people_here",
        help_text="Where the person is right now (kept by the sweep)",
        # Only the partial index below (rows that are somewhere): the full one would be
        # written for every person the sweep moves and never serves a query.
        db_index=False,
    )
    # The secret in the URL of the person's private calendar feed; renewing it retires the old URL.
    calendar_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "people"
        indexes = [
            models.Index(
                fields=["at_active_session_instance"],
                condition=Q(at_active_session_instance__isnull=False),
                name="person_at_active_instance",
            ),
        ]

    tracked_fields = sweep_owned_fields = ("at_active_session_instance_id",)

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def is_viewed_by_self(self, viewer) -> bool:
        return viewer is not None and viewer.is_authenticated and self.user_id is not None and self.user_id == viewer.pk

    def location_visible_to(self, viewer) -> bool:
        """May ``viewer`` see where this person is? The row form of ``location_visible_q``."""
        if not may_see_names(viewer):
            return False
        return self.share_location or _sees_everyone(viewer) or self.is_viewed_by_self(viewer)

    @staticmethod
    def new_calendar_token() -> str:
        return secrets.token_urlsafe(32)

    def renew_calendar_token(self) -> str:
        """Give the person a new private feed URL; the old one answers 404 from now on."""
        self.calendar_token = self.new_calendar_token()
        self.save(update_fields=["calendar_token"])
        return self.calendar_token


class Attendance(LocksLiveState, TracksLoadedValues, models.Model):
    class Status(models.TextChoices):
        YES = "yes", "Going"
        MAYBE = "maybe", "Maybe"
        NO = "no", "Not going"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="attendances")
    session_instance = models.ForeignKey(SessionInstance, on_delete=models.CASCADE, related_name="attendances")
    status = models.CharField(max_length=5, choices=Status.choices)
    checked_in_at = models.DateTimeField(null=True, blank=True, help_text="When the answer last became yes")
    left_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text='When the person pressed "I\'ve left" while the instance was live; cleared by a new check-in',
    )

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "session_instance"], name="unique_attendance_person_instance"),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.session_instance}: {self.status}"

    tracked_fields = ("status", "checked_in_at", "left_at", "person_id", "session_instance_id")

    def save(self, *args, **kwargs):
        # checked_in_at moves to now whenever the answer becomes yes (new, no->yes,
        # maybe->yes), unless the caller set it to a given instant itself.
        loaded = getattr(self, "loaded", {})
        became_yes = self.status == self.Status.YES and loaded.get("status") != self.Status.YES
        if became_yes and self.checked_in_at == loaded.get("checked_in_at"):
            self.checked_in_at = clock.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "checked_in_at"}
        super().save(*args, **kwargs)
        self.remember_loaded()
