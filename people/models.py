"""Players and their answers for session instances."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from sessions_app import clock
from sessions_app.models import (
    HasCountry,
    LiveStateQuerySet,
    LocksLiveState,
    SessionInstance,
    TracksLoadedValues,
    country_validator,
)


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
        SessionInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="people_here",
        help_text="Where the person is right now (kept by the sweep)",
        # Only the partial index below (rows that are somewhere): the full one would be
        # written for every person the sweep moves and never serves a query.
        db_index=False,
    )
    # The secret in the URL of the person's private calendar feed; renewing it retires the old URL.
    calendar_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    objects = LiveStateQuerySet.as_manager()

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
        null=True, blank=True,
        help_text="When the person pressed \"I've left\" while the instance was live; cleared by a new check-in",
    )

    objects = LiveStateQuerySet.as_manager()

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
