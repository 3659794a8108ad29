"""Sessions, their dated instances, and the record of sweeps."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from math import cos, radians, sqrt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypedDict, TypeVar
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    Cos,
    Lower,
    Mod,
    Radians,
    Sqrt,
    Trim,
)
from django.db.models.lookups import GreaterThan

from sessions_app import clock
from sessions_app.db import IdIn
from sessions_app.fields import RecurrenceField, is_unreadable, serialize_rules  # noqa: F401 (re-exported)
from sessions_app.hooks import suppress_hooks
from sessions_app.locks import lock_live_state
from sessions_app.occurrences import RecurrenceError, check_supported, parse_rules, rules_need_anchor
from sessions_app.windows import MAX_BUFFER_MINUTES, MAX_WINDOW, Window, is_valid_timezone, window_in_zone, zone

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    # The mixins below are only ever combined with ``models.Model``: the type checker
    # sees them as models so that ``super().save()``, ``_state`` and ``_meta`` resolve.
    _ModelMixin = models.Model
else:
    _ModelMixin = object


def validate_timezone(value: str) -> None:
    if not is_valid_timezone(value):
        raise ValidationError("%(value)s is not an IANA timezone name.", params={"value": value}, code="invalid")


country_validator = RegexValidator(r"^[A-Z]{2}$", "Use the ISO 3166-1 alpha-2 code in upper case, e.g. IE.")

buffer_validators = [MinValueValidator(0), MaxValueValidator(MAX_BUFFER_MINUTES)]
hours_ahead_validators = [MinValueValidator(1), MaxValueValidator(168)]


@lru_cache(maxsize=1)
def iso_country_codes() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes, read from the tz database's ``iso3166.tab``.

    The pinned ``tzdata`` package ships the table; the system tz directories are the
    fallback. Empty when neither has it: then only the upper-case format is checked.
    """
    return frozenset(iso_country_names())


@lru_cache(maxsize=1)
def iso_country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name, from ``iso3166.tab`` (empty when absent)."""
    try:
        candidates = [resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab")]
    except ModuleNotFoundError:
        candidates = []
    candidates += [Path(directory, "iso3166.tab") for directory in TZPATH]
    for table in candidates:
        try:
            text = table.read_text(encoding="utf-8")
        except OSError:
            continue
        names = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                code, _, name = line.partition("\t")
                names[code.strip()] = name.strip() or code.strip()
        return names
    return {}


def country_name(code: str) -> str:
    """The country's name for a code (the code itself when unknown)."""
    return iso_country_names().get(code, code)


def normalise_country(value: str) -> str:
    return value.strip().upper() if value else value


class HasCountry(_ModelMixin):
    """Stores ``country`` upper case and validates it as an assigned ISO 3166-1 alpha-2 code.

    Normalising happens before field validation, so a form's "ie" is accepted as "IE".
    """

    country: str  # each model declares its own field

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        self.country = normalise_country(self.country)
        errors: dict[str, Any] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        known = iso_country_codes()
        checked = not exclude or "country" not in exclude
        if checked and "country" not in errors and self.country and known and self.country not in known:
            errors["country"] = [
                ValidationError(
                    "%(value)s is not an ISO 3166-1 alpha-2 country code.",
                    code="invalid",
                    params={"value": self.country},
                )
            ]
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.country = normalise_country(self.country)
        super().save(*args, **kwargs)


# Changing any of these restarts the auto-create horizon at t (SPEC section 4) ...
# A new termination date counts too: occurrences the old one excluded, which the horizon
# has already passed, are created when it moves later.
SCHEDULE_FIELDS = (
    "recurrence",
    "start_time",
    "end_time",
    "timezone",
    "initiation_date",
    "auto_create_hours_ahead",
    "termination_date",
)
# ... and this only makes the session due for auto-create at the next evaluation.
DUE_FIELDS = ("auto_create_instances",)
# Changing any of these moves the windows of instances that have not ended.
WINDOW_FIELDS = ("start_time", "end_time", "timezone", "active_buffer_minutes_before", "active_buffer_minutes_after")


class TracksLoadedValues(_ModelMixin):
    """Remembers the values of ``tracked_fields`` as loaded, to tell what a save changes."""

    tracked_fields: tuple[str, ...] = ()

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any) -> Self:
        obj = super().from_db(db, field_names, values, **kwargs)
        obj.remember_loaded()
        return obj

    def tracked_value(self, name: str) -> Any:
        return getattr(self, name)

    def remember_loaded(self) -> None:
        self.loaded = {name: self.tracked_value(name) for name in self.tracked_fields if name in self.__dict__}

    def refresh_from_db(
        self,
        using: str | None = None,
        fields: Iterable[str] | None = None,
        from_queryset: models.QuerySet[Self] | None = None,
    ) -> None:
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        # The reloaded values are the new baseline; a stale one would make the next
        # save() see changes that were never made here.
        refreshed = (
            set(self.tracked_fields)
            if fields is None
            else {name for name in self.tracked_fields if name in fields or name.removesuffix("_id") in fields}
        )
        loaded = getattr(self, "loaded", {})
        for name in refreshed:
            if name in self.__dict__:
                loaded[name] = self.tracked_value(name)
        self.loaded = loaded

    def changed_fields(self) -> set[str]:
        """Tracked fields whose value differs from the loaded one (empty for a new object)."""
        loaded = getattr(self, "loaded", {})
        return {name for name, value in loaded.items() if self.tracked_value(name) != value}

    #: Columns (attnames, also listed in ``tracked_fields``) that the sweep writes with
    #: set-based updates. A full ``save()`` of a copy loaded earlier writes them only when
    #: this copy changed them, so a stale object never undoes the sweep's work.
    sweep_owned_fields: tuple[str, ...] = ()
    #: Sweep-owned columns this save sets on purpose even where the value looks unchanged.
    owned_fields_to_write: frozenset[str] = frozenset()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            stale = set(self.sweep_owned_fields) - self.changed_fields() - self.owned_fields_to_write
            if stale:
                kwargs["update_fields"] = [
                    f.attname for f in self._meta.concrete_fields if not f.primary_key and f.attname not in stale
                ]
        super().save(*args, **kwargs)
        self.remember_loaded()


class LocksLiveState(_ModelMixin):
    """Saves and deletions take the live-state lock first (SPEC section 4).

    A save can change ``is_active`` (the admin's override) or the windows the sweep reads,
    and a deletion sets people's locations to null through the cascade: both are writes
    of live state, so they queue behind a running evaluation instead of racing it into a
    deadlock, or into an answer committed for an instance being deleted. The lock is
    transaction-level: a save in autocommit mode gets a transaction of its own.
    """

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            lock_live_state(wait=True)
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic():
            lock_live_state(wait=True)
            return super().delete(*args, **kwargs)


# The querysets below are generic in the model and the row, like ``QuerySet`` itself,
# so that annotations (``.annotate(...)``) reach the rows for the type checker; each
# model's manager binds them to the model.
ModelT = TypeVar("ModelT", bound=models.Model)
RowT = TypeVar("RowT")


class LiveStateQuerySet(models.QuerySet[ModelT, RowT]):
    """``delete()`` takes the live-state lock first, like ``LocksLiveState.delete``."""

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db):
            lock_live_state(wait=True)
            return super().delete()

    # Django's own markers on QuerySet.delete (not for templates; not copied to managers).
    delete.alters_data = True  # type: ignore[attr-defined]  # mypy does not model attributes set on a function
    delete.queryset_only = True  # type: ignore[attr-defined]  # mypy does not model attributes set on a function


def city_key(value: str) -> str:
    """How cities compare: trimmed, inner runs of spaces collapsed, case-insensitive."""
    return " ".join(value.split()).lower()


def city_key_expression(field: str = "city"):
    """``city_key`` in the database (trim + lower; runs of inner spaces are rare and are
    collapsed on save by ``Session.clean_fields``)."""
    return Lower(Trim(field))


# Near me: the boxes tried around the viewer, by half-height in degrees of latitude (about
# 2 km to 2,800 km); the first that holds a page of sessions is searched (widened so that
# the order is exact). Past the last, every session with coordinates is sorted.
NEAR_ME_STEPS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0)
EARTH_RADIUS_KM = 6371.0


def _coordinate_box(latitude: float, longitude: float, half_height: float) -> Q:
    """Sessions within ``half_height`` degrees of latitude of the point and within the
    longitudes that span as much distance east and west at the box's edge nearest a
    pole (every longitude there when the box reaches a pole), across the antimeridian."""
    box = Q(latitude__gte=latitude - half_height, latitude__lte=latitude + half_height)
    edge = abs(latitude) + half_height
    if edge >= 89.99:
        return box
    width = half_height / cos(radians(edge))
    if width >= 180:
        return box
    west, east = longitude - width, longitude + width
    span = Q(longitude__gte=west, longitude__lte=east)
    if west < -180:
        span |= Q(longitude__gte=west + 360)
    if east > 180:
        span |= Q(longitude__lte=east - 360)
    return box & span


def _reach(latitude: float, half_height: float) -> float:
    """The half-height of the box that holds every session as near (by ``distance_km``)
    as the farthest corner of the box of ``half_height``: the boxes' longitudes are
    widened for the edge nearest a pole, so that corner lies further east or west."""
    edge = abs(latitude) + half_height
    if edge >= 89.99:
        return 2 * half_height
    near_cos = cos(radians(max(0.0, abs(latitude) - half_height)))
    return half_height * sqrt(1 + (near_cos / cos(radians(edge))) ** 2)


class SessionQuerySet(LiveStateQuerySet[ModelT, RowT]):
    def search(self, text: str):
        """Sessions whose name, venue or city contains ``text`` (case-insensitive)."""
        text = text.strip()
        if not text:
            return self
        return self.filter(Q(name__icontains=text) | Q(venue_name__icontains=text) | Q(city__icontains=text))

    def in_country(self, code: str):
        return self.filter(country=code.strip().upper())

    def in_city(self, city: str):
        """Sessions in ``city`` compared by ``city_key`` (case- and space-insensitive)."""
        return self.alias(city_key=city_key_expression()).filter(city_key=city_key(city))

    def near(self, latitude: float, longitude: float, *, wanted: int = 1):
        """These sessions that have coordinates, annotated ``distance_km`` from the point
        (equirectangular approximation, computed in the database on SQLite and
        PostgreSQL alike) and sorted nearest first; exact for the first ``wanted``.

        Bounded by the sessions near the point rather than by all of them: one query
        finds the smallest box of ``NEAR_ME_STEPS`` that holds ``wanted`` of these
        sessions (each try stops at the ``wanted``-th, through ``session_coordinates``),
        and only the box that holds everything as near as that box's farthest corner is
        sorted. When no box holds ``wanted``, every session with coordinates is sorted."""
        latitude, longitude = float(latitude), float(longitude)
        located = self.filter(latitude__isnull=False, longitude__isnull=False)
        tries = [
            When(
                Exists(located.filter(_coordinate_box(latitude, longitude, h)).values("pk")[wanted - 1 : wanted]),
                then=Value(h),
            )
            for h in NEAR_ME_STEPS
        ]
        step = (
            Session.objects.order_by()
            .annotate(step=Case(*tries, default=None, output_field=FloatField()))
            .values_list("step", flat=True)
            .first()
        )
        if step is not None:
            located = located.filter(_coordinate_box(latitude, longitude, _reach(latitude, step)))
        lat = Value(latitude, output_field=FloatField())
        lon = Value(longitude, output_field=FloatField())
        s_lat = Cast("latitude", FloatField())
        s_lon = Cast("longitude", FloatField())
        # Longitude difference folded into [-180, 180] so the antimeridian is not a wall.
        d_lon = Mod(s_lon - lon + Value(540.0), Value(360.0)) - Value(180.0)
        x = Radians(d_lon) * Cos(Radians((s_lat + lat) / Value(2.0)))
        y = Radians(s_lat - lat)
        return located.annotate(distance_km=Sqrt(x * x + y * y) * Value(EARTH_RADIUS_KM)).order_by("distance_km", "pk")


class Session(LocksLiveState, HasCountry, TracksLoadedValues, models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    venue_name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=120)
    country = models.CharField(max_length=2, validators=[country_validator], help_text="ISO 3166-1 alpha-2, e.g. IE")
    timezone = models.CharField(
        max_length=64, validators=[validate_timezone], help_text="IANA name, e.g. Europe/Dublin"
    )
    recurrence = RecurrenceField(blank=True, null=True)
    initiation_date = models.DateField(
        null=True,
        blank=True,
        help_text="First date of the session. Anchors 'every other week'; required for such rules.",
    )
    start_time = models.TimeField(null=True, blank=True, help_text="Local wall-clock time")
    end_time = models.TimeField(
        null=True, blank=True, help_text="Local wall-clock time; at or before the start means the next day"
    )
    active_buffer_minutes_before = models.PositiveSmallIntegerField(default=60, validators=buffer_validators)
    active_buffer_minutes_after = models.PositiveSmallIntegerField(default=60, validators=buffer_validators)
    auto_create_instances = models.BooleanField(default=False)
    auto_create_hours_ahead = models.PositiveSmallIntegerField(default=24, validators=hours_ahead_validators)
    termination_date = models.DateField(null=True, blank=True, help_text="Last local date the session runs")
    latitude = models.DecimalField(
        max_digits=8,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text="WGS 84 degrees north, for 'near me'",
    )
    longitude = models.DecimalField(
        max_digits=8,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
        help_text="WGS 84 degrees east",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Auto-create bookkeeping: occurrences starting before this instant were generated
    # (so deleted ones are not re-created); null means "restart at the next evaluation".
    auto_created_until = models.DateTimeField(null=True, blank=True, editable=False)
    # When the horizon next needs extending; the sweep only expands sessions due by t.
    auto_create_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the session was last saved: calendar feeds derive LAST-MODIFIED and SEQUENCE from it.
    updated_at = models.DateTimeField(auto_now=True, null=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(auto_create_hours_ahead__gte=1, auto_create_hours_ahead__lte=168),
                name="session_hours_ahead_1_168",
            ),
            models.CheckConstraint(
                condition=Q(active_buffer_minutes_before__lte=MAX_BUFFER_MINUTES)
                & Q(active_buffer_minutes_after__lte=MAX_BUFFER_MINUTES),
                name="session_buffers_at_most_720",
            ),
        ]
        indexes = [
            models.Index(
                fields=["auto_create_due_at"], condition=Q(auto_create_instances=True), name="session_auto_create_due"
            ),
            # The sweep lists the zone names in use through it (activation.invalid_timezones).
            models.Index(fields=["timezone"], name="session_timezone"),
            # Near me: a box of latitudes and longitudes is a range of it, checked in the index.
            models.Index(
                fields=["latitude", "longitude"], condition=Q(latitude__isnull=False), name="session_coordinates"
            ),
            # The home page's browsing order (country, city key, name, id), also serving a
            # city's sessions: a page of them is an index range, whatever the number of sessions.
            models.Index(F("country"), Lower(Trim("city")), F("name"), F("id"), name="session_browse_order"),
        ]

    def __str__(self) -> str:
        return self.name

    tracked_fields = (*SCHEDULE_FIELDS, *DUE_FIELDS, *WINDOW_FIELDS, "auto_created_until", "auto_create_due_at")
    sweep_owned_fields = ("auto_created_until", "auto_create_due_at")

    def tracked_value(self, name: str):
        value = getattr(self, name)
        return serialize_rules(value) if name == "recurrence" else value

    @property
    def zone(self) -> ZoneInfo | None:
        """The session's ``ZoneInfo``, or ``None`` when the stored name is not valid."""
        try:
            return zone(self.timezone)
        except ZoneInfoNotFoundError:
            return None

    @property
    def recurrence_error(self) -> str:
        """Why the stored recurrence cannot be read, "" when it can (pages then say
        "schedule unreadable"; the row still loads, see ``sessions_app.fields``)."""
        return self.recurrence.error if is_unreadable(self.recurrence) else ""

    @property
    def timezone_error(self) -> str:
        """Why the stored timezone cannot be used, "" when it can."""
        return "" if self.zone is not None else f"{self.timezone!r} is not an IANA timezone name"

    def on_wall_clock(self, instant: datetime | None) -> datetime | None:
        """``instant`` in the session's zone; ``None`` when either is unknown."""
        tz = self.zone
        return instant.astimezone(tz) if instant is not None and tz is not None else None

    def anchor_date(self):
        """The date recurrence rules count from: ``initiation_date``, else the creation date."""
        if self.initiation_date:
            return self.initiation_date
        created = self.created_at or clock.now()
        tz = self.zone
        return created.astimezone(tz).date() if tz else created.date()

    def clean(self) -> None:
        super().clean()
        if self.recurrence:
            try:
                check_supported(self.recurrence)
            except RecurrenceError as exc:
                raise ValidationError({"recurrence": str(exc)}) from exc
        if self.recurrence and rules_need_anchor(self.recurrence) and not self.initiation_date:
            raise ValidationError(
                {
                    "initiation_date": "Set the first date: 'every N weeks' and weekly rules "
                    "without a weekday count from it."
                }
            )
        if self.recurrence and (self.start_time is None or self.end_time is None):
            raise ValidationError({"start_time": "A recurring session needs a start and an end time."})
        if self.pk and not self.initiation_date and self._slots_need_anchor():
            raise ValidationError(
                {"initiation_date": "A further time slot counts 'every N weeks' from the first date: keep it set."}
            )

    def _slots_need_anchor(self) -> bool:
        for slot in SessionSchedule.objects.as_text_by_session([self.pk]).get(self.pk, []):
            try:
                if rules_need_anchor(parse_rules(slot.rules_text or "")):
                    return True
            except RecurrenceError:
                continue
        return False

    def save(self, *args, **kwargs):  # noqa: DJ012 - kept beside the helpers it calls
        changed = self.changed_fields()
        old = dict(getattr(self, "loaded", {}))
        if changed & set(SCHEDULE_FIELDS):
            self.auto_created_until = None
        restart = self._state.adding or bool(changed & {*SCHEDULE_FIELDS, *DUE_FIELDS})
        if restart:
            # NULL is "due at the next evaluation, whatever its t" (SPEC 1).
            self.auto_create_due_at = None
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "auto_created_until", "auto_create_due_at"}
        self.owned_fields_to_write = frozenset(
            ({"auto_create_due_at"} if restart else set())
            | ({"auto_created_until"} if changed & set(SCHEDULE_FIELDS) else set())
        )
        try:
            with transaction.atomic():
                super().save(*args, **kwargs)
                if changed & set(WINDOW_FIELDS):
                    self._carry_changes_to_instances(changed, old)
        finally:
            self.owned_fields_to_write = frozenset()

    def _carry_changes_to_instances(self, changed: set[str], old: dict) -> None:
        """Bring instances that have not ended in line with a change of times, zone or buffers.

        Instances of the main slot (``schedule`` null) that have not started and still
        carry the old session time take the new one; individually edited ones keep theirs,
        and instances of further slots keep their slot's times. Ended instances are history and stay.
        An instance also keeps its start time when another instance of the session already
        starts at the new time on its date (unique session, date, start time).
        """
        now = clock.now()
        not_ended = self.instances.not_ended_at(now)
        taken = set(self.instances.values_list("date", "start_time")) if "start_time" in changed else set()
        changed_rows = []
        for instance in not_ended:
            before = (instance.start_time, instance.end_time, *instance.window_values())
            not_started = instance.starts_at is None or instance.starts_at > now
            main_slot = instance.schedule_id is None
            if (
                not_started
                and main_slot
                and "start_time" in changed
                and instance.start_time == old["start_time"]
                and (instance.date, self.start_time) not in taken
            ):
                instance.start_time = self.start_time
            if not_started and main_slot and "end_time" in changed and instance.end_time == old["end_time"]:
                instance.end_time = self.end_time
            instance.session = self
            instance.refresh_window()
            if (instance.start_time, instance.end_time, *instance.window_values()) != before:
                instance.updated_at = now
                changed_rows.append(instance)
        SessionInstance.objects.bulk_update(
            changed_rows,
            ["start_time", "end_time", "starts_at", "ends_at", "active_from", "active_until", "updated_at"],
        )


SLOT_SCHEDULE_FIELDS = ("recurrence", "start_time", "end_time")


class RulesText(TypedDict):
    rules_text: str | None


if TYPE_CHECKING:
    #: A slot read by ``as_text_by_session``: its rules as text, ``recurrence`` deferred.
    SlotText = WithAnnotations["SessionSchedule", RulesText]


class SessionScheduleQuerySet(LiveStateQuerySet[ModelT, RowT]):
    def as_text_by_session(
        self: SessionScheduleQuerySet[SessionSchedule, SessionSchedule], session_ids: Iterable[int]
    ) -> dict[int, list[SlotText]]:
        """The slots of these sessions by session id, in slot order, their rules read as
        text (``rules_text``, parsed by the caller per slot with
        ``occurrences.parse_rules``) so that one unreadable row breaks nothing else.
        One query; ``recurrence`` itself is deferred and must not be read."""
        rows = (
            self.filter(IdIn("session_id", session_ids))
            .defer("recurrence")
            .annotate(rules_text=Cast("recurrence", TextField()))
            .order_by("session_id", "pk")
        )
        by_session: dict[int, list[SlotText]] = {}
        for row in rows:
            by_session.setdefault(row.session_id, []).append(row)
        return by_session


class SessionSchedule(LocksLiveState, TracksLoadedValues, models.Model):
    """A further regular time slot of a session (SPEC section 1); the session's own rules
    and times are its main slot. The session's anchor, termination date, zone and
    buffers apply to every slot."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="schedules")
    recurrence = RecurrenceField(help_text="Counted from the session's first date (initiation date)")
    start_time = models.TimeField(help_text="Local wall-clock time")
    end_time = models.TimeField(help_text="Local wall-clock time; at or before the start means the next day")
    label = models.CharField(max_length=100, blank=True, help_text="Optional, e.g. 'Sunday afternoon'")

    objects = SessionScheduleQuerySet.as_manager()

    tracked_fields = (*SLOT_SCHEDULE_FIELDS, "session_id")

    class Meta:
        ordering = ["session", "pk"]
        verbose_name = "further time slot"

    def __str__(self) -> str:
        times = f"{self.start_time:%H:%M}–{self.end_time:%H:%M}" if self.start_time and self.end_time else ""
        return " ".join(part for part in (self.label, times) if part) or f"slot {self.pk}"

    def tracked_value(self, name: str):
        value = getattr(self, name)
        return serialize_rules(value) if name == "recurrence" else value

    def clean(self) -> None:
        super().clean()
        if not self.recurrence or not (self.recurrence.rrules or self.recurrence.rdates):
            raise ValidationError({"recurrence": "A time slot needs its rules (e.g. weekly on Sunday)."})
        try:
            check_supported(self.recurrence)
            # A value that deserialises can still fail to serialise (INTERVAL=0).
            serialize_rules(self.recurrence)
        except RecurrenceError as exc:
            raise ValidationError({"recurrence": str(exc) or "These rules cannot be stored."}) from exc
        try:
            session = self.session
        except Session.DoesNotExist:
            session = None
        if session is not None and rules_need_anchor(self.recurrence) and not session.initiation_date:
            raise ValidationError(
                {
                    "recurrence": "'Every N weeks' and weekly rules without a weekday count from the session's "
                    "first date: set the session's initiation date first."
                }
            )

    def save(self, *args, **kwargs):  # noqa: DJ012 - kept beside the helpers it calls
        changed = self.changed_fields()
        old = dict(getattr(self, "loaded", {}))
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding or changed & set(SLOT_SCHEDULE_FIELDS):
                restart_horizon(self.session_id)
            if not adding and changed & {"start_time", "end_time"}:
                self._carry_times_to_instances(changed, old)

    def _carry_times_to_instances(self, changed: set[str], old: dict) -> None:
        """This slot's instances that have not started and still carry the slot's old time
        take the new one (like the main slot's, ``Session._carry_changes_to_instances``)."""
        now = clock.now()
        instances = (
            SessionInstance.objects.filter(schedule=self)
            .filter(Q(starts_at__gt=now) | Q(starts_at__isnull=True))
            .select_related("session")
        )
        taken = (
            set(SessionInstance.objects.filter(session_id=self.session_id).values_list("date", "start_time"))
            if "start_time" in changed
            else set()
        )
        changed_rows = []
        for instance in instances:
            before = (instance.start_time, instance.end_time)
            if (
                "start_time" in changed
                and instance.start_time == old["start_time"]
                and (instance.date, self.start_time) not in taken
            ):
                instance.start_time = self.start_time
            if "end_time" in changed and instance.end_time == old["end_time"]:
                instance.end_time = self.end_time
            if (instance.start_time, instance.end_time) != before:
                instance.refresh_window()
                changed_rows.append(instance)
        SessionInstance.objects.bulk_update(
            changed_rows, ["start_time", "end_time", "starts_at", "ends_at", "active_from", "active_until"]
        )

    def release_instances(self, t: datetime) -> None:
        """Before this slot is deleted: its auto-created instances starting after ``t``
        without answers go; the others stay as instances of no slot (``schedule`` is set
        to null by the deletion), and the future ones among them stop counting as
        auto-created, so they do not stand for the main slot's occurrence on their date."""
        future = SessionInstance.objects.filter(schedule=self, auto_created=True, starts_at__gt=t)
        with suppress_hooks():
            future.filter(attendances__isnull=True).delete()
        SessionInstance.objects.filter(pk__in=future.values("pk")).update(auto_created=False)
        restart_horizon(self.session_id)


def restart_horizon(session_id: int) -> None:
    """A change of one slot restarts the auto-create horizon of the whole session (NULL
    markers: restart and due at the next evaluation)."""
    Session.objects.filter(pk=session_id).update(auto_created_until=None, auto_create_due_at=None)


def live_flag() -> GreaterThan:
    """``CAST(is_active AS integer) > 0``: "live" as the pages and ``/api/live`` test it
    (``SessionInstanceQuerySet.live`` says why), and the predicate of their partial
    indexes."""
    return GreaterThan(Cast("is_active", IntegerField()), 0)


# "Live in a city" (``SessionInstanceQuerySet.live_in_city``): a city of up to this many
# sessions is read exactly, session by session ...
CITY_SESSIONS_PROBED = 200
# ... a bigger one among this many soonest live instances at most.
LIVE_SCANNED = 500
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


class SessionInstanceQuerySet(LiveStateQuerySet[ModelT, RowT]):
    def with_listed_session(self):
        """With their session, as a list of instances shows it: everything but the rules,
        whose parsing is the costliest part of loading a session and which such lists do
        not show (reading ``session.recurrence`` on these raises, see PITFALLS)."""
        return self.select_related("session").defer("session__recurrence")

    def open_at(self, t: datetime):
        """Instances whose active window contains ``t`` (``active_from <= t < active_until``).

        The lower limit on ``active_from`` bounds the index range scan: no window is
        longer than ``MAX_WINDOW``, so older rows cannot match.
        """
        return self.filter(active_from__lte=t, active_from__gt=t - MAX_WINDOW, active_until__gt=t)

    def qualifying_at(self, t: datetime):
        """Instances that may be active at ``t`` (SPEC 3.1) before one is picked per session.

        Sessions with an invalid timezone are excluded by the caller, which reports them.
        """
        # An anti-join against the few sessions that have a termination date, rather than
        # a join of every open instance with every session.
        terminated_before = Session.objects.filter(
            pk=OuterRef("session_id"), termination_date__isnull=False, termination_date__lt=OuterRef("date")
        )
        return self.open_at(t).filter(is_cancelled=False).exclude(Exists(terminated_before))

    def active(self):
        """The live instances: the one rule for "a session is live" (SPEC 3.1-3.3)."""
        return self.filter(is_active=True)

    def not_ended_at(self, t: datetime):
        """Instances that have not ended at ``t``, and those with no known end: the ones
        whose stored window still matters and is kept in line with its inputs (SPEC 1)."""
        return self.filter(Q(ends_at__gt=t) | Q(ends_at__isnull=True))

    def live(self):
        """The live instances as the pages and ``/api/live`` read them: the rule of
        ``active()``, spelled ``CAST(is_active AS integer) > 0`` (``live_flag``), which only
        the pages' own partial indexes match: ``instance_live_by_start`` (the live ones by
        start) and ``instance_live_by_session`` (a few sessions' live instances; all of
        them by session).

        Why not ``is_active``: the sweep flips it for many rows at once and the planner's
        statistics lag (PITFALLS "plans at the busy moment"). Believing that one instance
        is live, PostgreSQL reads the live instances through whichever partial index on
        ``is_active`` looks cheapest and sorts or filters afterwards: every live instance
        for a page of 31 (20 ms at 47,000 live), or for 200 sessions' (365 ms). It keeps
        no statistics for the cast, so it takes a fixed third of the instances for live,
        whatever ANALYZE last saw; under that belief a query that reads a page of live
        instances in an index's order, or a few sessions' through their ids, always
        prefers the index that serves it to reading every live one, and it cannot prove
        ``is_active`` from the cast, so the sweep's indexes on ``is_active`` are not
        candidates. A page reads about as many index entries as it shows, at the busy
        moment as in steady state.
        """
        return self.filter(live_flag())

    def live_of_sessions(self, session_ids):
        """The live instances of a few sessions: one probe of ``instance_live_by_session``
        per id, whatever the number of sessions or of live instances. No query for no ids
        (PostgreSQL takes ``= ANY('{}')`` for false, from which it proves any index
        predicate, and may then scan a whole partial index)."""
        ids = IdIn.normalise(session_ids)
        return self.live().filter(IdIn("session_id", ids)) if ids else self.none()

    def live_in_city(self, *, city: str, country: str, limit: int) -> tuple[list[SessionInstance], bool]:
        """The first ``limit`` live instances in ``city`` (``city_key``) and ``country``,
        soonest first, with their sessions, and whether there may be more: the one rule
        for "live in a city" (the instance page's other live sessions, the home page
        filtered by city). Two queries, and a cost bounded whatever the city's size or
        the number of live instances.

        A city of up to ``CITY_SESSIONS_PROBED`` sessions (every real one) is read
        exactly: its session ids (an index range of ``session_browse_order``), then one
        probe of ``instance_live_by_session`` each. A bigger city (the benchmark's hold
        7,143 sessions) is read from the other end: the live instances by start
        (``instance_live_by_start``), each one's session tested by primary key, stopping
        at the ``limit + 1``-th in the city or after the first ``LIVE_SCANNED`` live
        instances, whichever comes first; the list is then exact when it is full, and
        "there may be more" stands either way. (PostgreSQL takes that plan knowing how many
        sessions the city has: the ``session_country_city`` statistics, migration 0009.)
        """
        ids = list(
            Session.objects.in_country(country)
            .in_city(city)
            .order_by()
            .values_list("pk", flat=True)[: CITY_SESSIONS_PROBED + 1]
        )
        if len(ids) <= CITY_SESSIONS_PROBED:
            found = list(self.live_of_sessions(ids).with_listed_session().order_by("starts_at", "pk")[: limit + 1])
            return found[:limit], len(found) > limit
        # The start of the LIVE_SCANNED-th live instance bounds the walk (an index-only
        # skip over LIVE_SCANNED entries); no bound when fewer are live.
        bound = (
            SessionInstance.objects.live()
            .order_by("starts_at", "pk")
            .values("starts_at")[LIVE_SCANNED - 1 : LIVE_SCANNED]
        )
        # The session is tested per instance (EXISTS), so that neither database drives the
        # join from the city's sessions.
        in_city = Session.objects.in_country(country).in_city(city).filter(pk=OuterRef("session_id"))
        found = list(
            self.live()
            .filter(starts_at__lte=Coalesce(Subquery(bound), Value(FAR_FUTURE, output_field=DateTimeField())))
            .filter(Exists(in_city))
            .with_listed_session()
            .order_by("starts_at", "pk")[: limit + 1]
        )
        return found[:limit], True

    def starting_between(self, after: datetime, before: datetime):
        """Not-cancelled instances starting in ``(after, before]``, soonest first."""
        return self.filter(starts_at__gt=after, starts_at__lte=before, is_cancelled=False).order_by("starts_at", "pk")


class SessionInstance(LocksLiveState, TracksLoadedValues, models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="instances")
    date = models.DateField(help_text="The local date the instance starts")
    start_time = models.TimeField(null=True, blank=True, help_text="Local; empty copies its slot's")
    end_time = models.TimeField(null=True, blank=True, help_text="Local; empty copies its slot's")
    is_cancelled = models.BooleanField(default=False)
    is_active = models.BooleanField(default=False)
    auto_created = models.BooleanField(default=False, editable=False)
    schedule = models.ForeignKey(
        SessionSchedule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="instances",
        help_text="The further time slot that generated it; empty for the main slot and hand-made instances",
    )
    location_override = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Shown instead of the venue, e.g. 'Upstairs at the Swan this week'",
    )
    starts_at = models.DateTimeField(null=True, blank=True, editable=False)
    ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    active_from = models.DateTimeField(null=True, blank=True, editable=False)
    active_until = models.DateTimeField(null=True, blank=True, editable=False)
    # When the instance was last saved (not by the sweep's is_active flips): calendar
    # feeds derive LAST-MODIFIED and SEQUENCE from it. Null for rows written around save().
    updated_at = models.DateTimeField(auto_now=True, null=True)

    objects = SessionInstanceQuerySet.as_manager()

    tracked_fields = ("date", "start_time", "end_time", "is_cancelled", "is_active", "session_id")
    sweep_owned_fields = ("is_active",)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "date", "start_time"], name="unique_instance_session_date_start"
            ),
            models.UniqueConstraint(
                fields=["session"], condition=Q(is_active=True), name="one_active_instance_per_session"
            ),
        ]
        indexes = [
            models.Index(fields=["is_active"], condition=Q(is_active=True), name="instance_is_active"),
            models.Index(fields=["active_from", "active_until"], name="instance_active_window"),
            # The home page: what starts in the next 24 hours.
            models.Index(fields=["starts_at"], name="instance_starts_at"),
            # The live instances as the pages and /api/live read them (``live()``): by start
            # (the home page's live now, a big city's), by session (the sessions a page
            # shows, a city's, /api/live page by page).
            models.Index(fields=["starts_at", "id"], condition=Q(live_flag()), name="instance_live_by_start"),
            models.Index(fields=["session"], condition=Q(live_flag()), name="instance_live_by_session"),
        ]

    def __str__(self) -> str:
        when = self.start_time.strftime("%H:%M") if self.start_time else "time unknown"
        return f"{self.session.name} — {self.date.isoformat()} {when}"

    def window_values(self) -> tuple:
        return (self.starts_at, self.ends_at, self.active_from, self.active_until)

    def window(self) -> Window | None:
        """This instance's UTC window from its local date and times; ``None`` when unknown
        or when the session's timezone is not valid."""
        return window_in_zone(
            timezone_name=self.session.timezone,
            local_date=self.date,
            start_time=self.start_time,
            end_time=self.end_time,
            buffer_before_minutes=self.session.active_buffer_minutes_before,
            buffer_after_minutes=self.session.active_buffer_minutes_after,
        )

    def refresh_window(self) -> None:
        """Set the stored UTC columns from the local inputs (kept in sync on every save)."""
        window = self.window()
        if window is None:
            self.starts_at = self.ends_at = self.active_from = self.active_until = None
        else:
            self.starts_at, self.ends_at = window.starts_at, window.ends_at
            self.active_from, self.active_until = window.active_from, window.active_until

    def save(self, *args, **kwargs):  # noqa: DJ012 - kept beside the helpers it calls
        if self._state.adding:
            slot = self.schedule if self.schedule is not None else self.session
            if self.start_time is None:
                self.start_time = slot.start_time
            if self.end_time is None:
                self.end_time = slot.end_time
        self.refresh_window()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            # A hand-set is_active alone is no change for calendar clients.
            touched = {"updated_at"} if set(update_fields) - {"is_active"} else set()
            kwargs["update_fields"] = {*update_fields, "starts_at", "ends_at", "active_from", "active_until", *touched}
        super().save(*args, **kwargs)

    class State(models.TextChoices):
        UPCOMING = "upcoming", "Upcoming"
        LIVE = "live", "Live now"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    def state_at(self, now: datetime) -> str:
        """upcoming / live / ended / cancelled. Live is the stored flag the sweep keeps;
        ended means the active window (or, without one, the local date) is past."""
        if self.is_cancelled:
            return self.State.CANCELLED
        if self.is_active:
            return self.State.LIVE
        if self.active_until is not None:
            return self.State.ENDED if self.active_until <= now else self.State.UPCOMING
        tz = self.session.zone
        today = now.astimezone(tz).date() if tz else now.date()
        return self.State.ENDED if self.date < today else self.State.UPCOMING

    @property
    def venue(self) -> str:
        """Where this instance is: its ``location_override``, else the session's venue."""
        return self.location_override or self.session.venue_name

    @property
    def local_starts(self) -> datetime | None:
        return self.session.on_wall_clock(self.starts_at)

    @property
    def local_ends(self) -> datetime | None:
        return self.session.on_wall_clock(self.ends_at)


class SweepRun(models.Model):
    class Trigger(models.TextChoices):
        CRON = "cron"
        HTTP = "http"
        EVENT = "event"
        ADMIN = "admin"

    class Status(models.TextChoices):
        OK = "ok"
        PARTIAL = "partial"
        FAILED = "failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField(help_text="The instant evaluated (now + lookahead)")
    simulated = models.BooleanField(default=False)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    activated_count = models.PositiveIntegerField(default=0)
    deactivated_count = models.PositiveIntegerField(default=0)
    auto_created_count = models.PositiveIntegerField(default=0)
    people_moved_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    full = models.BooleanField(
        default=True, help_text="Evaluated every session (otherwise only those that could have changed)"
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["started_at"], name="sweeprun_started_at")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} sweep at {self.evaluated_at:%Y-%m-%d %H:%M} UTC ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None


class TimeZoneDataVersion(models.Model):
    """One row each time the stored windows were brought in line with a tz database.

    The latest row names the tz database version (``windows.tz_database_version()``) that
    the stored UTC windows of instances that had not ended were last recomputed with; the
    sweep compares it with the version on disk and recomputes when they differ (SPEC 1).
    A log rather than a single row: it costs the same one-row read and shows when each
    upgrade was applied and how many windows it moved.
    """

    version = models.CharField(max_length=500)
    recorded_at = models.DateTimeField()
    instances_recomputed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.version} (recorded {self.recorded_at:%Y-%m-%d %H:%M} UTC)"
