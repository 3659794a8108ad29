"""The Django admin of sessions_app, driven through its pages as staff would: the session
form's time-slot and instance inlines, the instance form (location override, one active
instance per session), the actions, every list filter, search, and changelists whose
query count does not grow with their rows. Times: 24-hour (ceol/formats/en_GB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.messages import get_messages

from sessions_app import admin as sessions_admin
from sessions_app.active_sessions import SweepFailed
from sessions_app.models import Session, SessionInstance, SessionSchedule, SweepRun, serialize_rules
from tests.admin_helpers import change_form, changelist_pks, page_queries, pks
from tests.site_helpers import EVENING, login_client

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/sessions_app/session/"
INSTANCES = "/admin/sessions_app/sessioninstance/"
SWEEP_RUNS = "/admin/sessions_app/sweeprun/"
TONIGHT = EVENING.date()  # 2026-01-15, a Thursday


def session_url(session: Session) -> str:
    return f"{SESSIONS}{session.pk}/change/"


def instance_url(instance: SessionInstance) -> str:
    return f"{INSTANCES}{instance.pk}/change/"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_admin_times_are_24_hour(live_instance, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client = login_client(staff_user)
    listing = client.get(INSTANCES).content.decode()
    assert ">21:00<" in listing and ">23:30<" in listing
    assert "p.m." not in listing
    form = client.get(session_url(live_instance.session)).content.decode()
    assert 'name="latitude"' in form and 'name="longitude"' in form


# --- the session form's inlines ----------------------------------------------------------


@pytest.fixture
def thursdays(make_session) -> Session:
    return make_session(recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH", initiation_date=date(2026, 1, 1))


def with_new_slot(data: dict, session: Session, **fields: str) -> dict:
    data["schedules-TOTAL_FORMS"] = "1"
    data.update({"schedules-0-id": "", "schedules-0-session": str(session.pk)})
    data.update({f"schedules-0-{name}": value for name, value in fields.items()})
    return data


def test_the_session_form_posted_back_unchanged_saves_and_changes_nothing(admin_client, at_evening, thursdays):
    fields = [f.attname for f in Session._meta.concrete_fields if f.name != "updated_at"]  # auto_now: any save
    before = Session.objects.values(*fields).get(pk=thursdays.pk)
    response = admin_client.post(
        session_url(thursdays), change_form(admin_client, session_url(thursdays), "session_form")
    )
    assert response.status_code == 302
    assert Session.objects.values(*fields).get(pk=thursdays.pk) == before


def test_a_slot_added_through_the_inline_is_saved(admin_client, at_evening, thursdays):
    data = with_new_slot(
        change_form(admin_client, session_url(thursdays), "session_form"),
        thursdays,
        label="Sunday afternoon",
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU",
        start_time="16:00",
        end_time="19:00",
    )
    response = admin_client.post(session_url(thursdays), data)
    assert response.status_code == 302
    slot = SessionSchedule.objects.get(session=thursdays)
    assert (slot.label, serialize_rules(slot.recurrence), slot.start_time, slot.end_time) == (
        "Sunday afternoon",
        "RRULE:FREQ=WEEKLY;BYDAY=SU",
        time(16),
        time(19),
    )


def test_a_slot_edited_through_the_inline_is_saved(admin_client, at_evening, thursdays):
    slot = SessionSchedule.objects.create(
        session=thursdays, recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU", start_time=time(16), end_time=time(19)
    )
    data = change_form(admin_client, session_url(thursdays), "session_form")
    assert data["schedules-0-id"] == [str(slot.pk)] and data["schedules-0-start_time"] == ["16:00:00"]
    data.update({"schedules-0-start_time": "15:30", "schedules-0-recurrence": "RRULE:FREQ=WEEKLY;BYDAY=SA"})
    assert admin_client.post(session_url(thursdays), data).status_code == 302
    slot.refresh_from_db()
    assert (slot.start_time, serialize_rules(slot.recurrence)) == (time(15, 30), "RRULE:FREQ=WEEKLY;BYDAY=SA")


def test_a_slot_deleted_through_the_inline_is_gone(admin_client, at_evening, thursdays):
    SessionSchedule.objects.create(
        session=thursdays, recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU", start_time=time(16), end_time=time(19)
    )
    data = change_form(admin_client, session_url(thursdays), "session_form")
    data["schedules-0-DELETE"] = "on"
    assert admin_client.post(session_url(thursdays), data).status_code == 302
    assert not SessionSchedule.objects.filter(session=thursdays).exists()
    assert Session.objects.filter(pk=thursdays.pk).exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"recurrence": "", "start_time": "16:00", "end_time": "19:00"}, "A time slot needs its rules"),
        (
            {"recurrence": "RRULE:FREQ=WEEKLY;INTERVAL=0;BYDAY=SU", "start_time": "16:00", "end_time": "19:00"},
            "INTERVAL",
        ),
        (
            {"recurrence": "RRULE:FREQ=WEEKLY;BYDAY=SU", "start_time": "25:00", "end_time": "19:00"},
            "Enter a valid time",
        ),
        ({"recurrence": "RRULE:FREQ=WEEKLY;BYDAY=SU", "start_time": "16:00", "end_time": ""}, "This field is required"),
    ],
)
def test_a_bad_slot_is_a_form_error_and_nothing_is_saved(admin_client, at_evening, thursdays, fields, error):
    data = with_new_slot(change_form(admin_client, session_url(thursdays), "session_form"), thursdays, **fields)
    data["name"] = "Renamed"  # the session's own change is refused with the slot
    response = admin_client.post(session_url(thursdays), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errornote"' in page and error in page
    assert not SessionSchedule.objects.exists()
    assert Session.objects.get(pk=thursdays.pk).name != "Renamed"


def test_an_instance_edited_through_the_inline_gets_its_location_override(
    admin_client, at_evening, thursdays, make_instance
):
    tonight = make_instance(thursdays, TONIGHT)
    data = change_form(admin_client, session_url(thursdays), "session_form")
    assert data["instances-0-id"] == [str(tonight.pk)]
    data["instances-0-location_override"] = "Upstairs room"
    assert admin_client.post(session_url(thursdays), data).status_code == 302
    assert SessionInstance.objects.get(pk=tonight.pk).location_override == "Upstairs room"


def test_the_inline_lists_the_recent_and_upcoming_instances_only(admin_client, at_evening, thursdays, make_instance):
    recent = make_instance(thursdays, TONIGHT - timedelta(days=30))
    make_instance(thursdays, TONIGHT - timedelta(days=31))
    upcoming = make_instance(thursdays, TONIGHT + timedelta(days=7))
    data = change_form(admin_client, session_url(thursdays), "session_form")
    shown = {
        int(value)
        for name, values in data.items()
        if name.startswith("instances-") and name.endswith("-id")
        for value in values
    }
    assert shown == pks(recent, upcoming)


def test_two_active_instances_in_the_inline_are_a_form_error(admin_client, at_evening, thursdays, make_instance):
    make_instance(thursdays, TONIGHT)
    make_instance(thursdays, TONIGHT + timedelta(days=7))
    data = change_form(admin_client, session_url(thursdays), "session_form")
    data.update({"instances-0-is_active": "on", "instances-1-is_active": "on"})
    response = admin_client.post(session_url(thursdays), data)
    assert response.status_code == 200
    assert "Only one instance of a session can be active at a time." in response.content.decode()
    assert not SessionInstance.objects.filter(is_active=True).exists()


# --- the instance form -------------------------------------------------------------------


def test_the_instance_form_sets_and_clears_the_location_override(admin_client, at_evening, thursdays, make_instance):
    tonight = make_instance(thursdays, TONIGHT)
    data = change_form(admin_client, instance_url(tonight), "sessioninstance_form")
    assert data["location_override"] == [""]
    data["location_override"] = "The back bar, Mueller's"
    assert admin_client.post(instance_url(tonight), data).status_code == 302
    assert SessionInstance.objects.get(pk=tonight.pk).location_override == "The back bar, Mueller's"
    # The list shows it.
    assert "The back bar, Mueller&#x27;s" in admin_client.get(INSTANCES).content.decode()

    data["location_override"] = ""
    assert admin_client.post(instance_url(tonight), data).status_code == 302
    assert SessionInstance.objects.get(pk=tonight.pk).location_override == ""


def test_the_instance_form_refuses_a_second_active_instance_of_the_session(
    admin_client, at_evening, thursdays, make_instance
):
    tonight = make_instance(thursdays, TONIGHT)
    next_week = make_instance(thursdays, TONIGHT + timedelta(days=7))
    SessionInstance.objects.filter(pk=tonight.pk).update(is_active=True)
    data = change_form(admin_client, instance_url(next_week), "sessioninstance_form")
    data.update({"is_active": "on", "location_override": "Elsewhere"})
    response = admin_client.post(instance_url(next_week), data)
    assert response.status_code == 200
    assert "Another instance of this session is active (2026-01-15)" in response.content.decode()
    assert SessionInstance.objects.filter(is_active=True).get() == tonight
    assert SessionInstance.objects.get(pk=next_week.pk).location_override == ""


# --- actions -----------------------------------------------------------------------------


@pytest.fixture
def two_due(at_evening, make_session, make_instance) -> tuple[SessionInstance, SessionInstance]:
    """Two instances live at EVENING that no sweep has activated yet (hooks do not run here)."""
    first = make_instance(make_session(name="First"), TONIGHT)
    second = make_instance(make_session(name="Second"), TONIGHT)
    assert not SessionInstance.objects.filter(is_active=True).exists()
    return first, second


def run_action(client, changelist: str, action: str, *objects):
    return client.post(changelist, {"action": action, "_selected_action": [str(obj.pk) for obj in objects]})


def active_ids() -> set[int]:
    return set(SessionInstance.objects.filter(is_active=True).values_list("pk", flat=True))


def test_reevaluate_sessions_activates_the_selected_sessions_only(admin_client, two_due):
    first, second = two_due
    response = run_action(admin_client, SESSIONS, "reevaluate_sessions", first.session)
    assert response.status_code == 302
    assert active_ids() == {first.pk}
    run = SweepRun.objects.get()
    assert (run.trigger, run.status, run.activated_count, run.evaluated_at) == ("admin", "ok", 1, EVENING)
    assert messages_of(response) == [
        f"Evaluated at {EVENING.isoformat()}: 1 activated, 0 deactivated, 0 auto-created, 0 people moved, 0 errors."
    ]


def test_reevaluate_on_instances_evaluates_their_sessions(admin_client, two_due):
    first, second = two_due
    response = run_action(admin_client, INSTANCES, "reevaluate", second)
    assert response.status_code == 302
    assert active_ids() == {second.pk}
    assert SweepRun.objects.get().trigger == "admin"


def test_a_failed_reevaluation_is_an_error_message_and_changes_nothing(admin_client, two_due, monkeypatch):
    def fail(**kwargs):
        raise SweepFailed("lock timeout")

    monkeypatch.setattr(sessions_admin, "reevaluate", fail)
    response = run_action(admin_client, SESSIONS, "reevaluate_sessions", two_due[0].session)
    assert response.status_code == 302
    assert messages_of(response) == ["Evaluation failed: lock timeout"]
    assert active_ids() == set()


def test_delete_selected_sessions_takes_their_instances_and_slots(admin_client, two_due):
    first, second = two_due
    SessionSchedule.objects.create(
        session=first.session, recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU", start_time=time(16), end_time=time(19)
    )
    confirm = run_action(admin_client, SESSIONS, "delete_selected", first.session)
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert Session.objects.count() == 2  # nothing deleted before the confirmation
    done = admin_client.post(
        SESSIONS, {"action": "delete_selected", "_selected_action": [str(first.session_id)], "post": "yes"}
    )
    assert done.status_code == 302
    assert list(Session.objects.all()) == [second.session]
    assert list(SessionInstance.objects.all()) == [second]
    assert not SessionSchedule.objects.exists()


def test_the_sweep_log_is_read_only(admin_client):
    SweepRun.objects.create(started_at=EVENING, evaluated_at=EVENING, trigger="cron")
    response = admin_client.get(SWEEP_RUNS)
    assert response.status_code == 200
    assert "delete_selected" not in response.context["cl"].model_admin.get_actions(response.wsgi_request)
    assert admin_client.get(f"{SWEEP_RUNS}add/").status_code == 403


# --- filters and search ------------------------------------------------------------------


@pytest.fixture
def listed(at_evening, make_session, make_instance) -> dict:
    """Sessions in Dublin (live tonight), Cork (auto-create) and New York, with instances."""
    dublin = make_session(name="Mueller Monday", venue_name="Mueller's", city="Dublin", address="1 Quay St")
    cork = make_session(
        name="Cork Trad",
        venue_name="Sin É",
        city="Cork",
        auto_create_instances=True,
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=SA",
        initiation_date=date(2026, 1, 1),
    )
    new_york = make_session(
        name="Late Night", venue_name="The Cobblestone", city="New York", country="US", timezone="America/New_York"
    )
    tonight = make_instance(dublin, TONIGHT)
    cancelled = make_instance(cork, TONIGHT + timedelta(days=2), is_cancelled=True)
    auto = make_instance(new_york, TONIGHT + timedelta(days=1))
    SessionInstance.objects.filter(pk=tonight.pk).update(is_active=True)
    SessionInstance.objects.filter(pk=auto.pk).update(auto_created=True)
    return {
        "dublin": dublin,
        "cork": cork,
        "new_york": new_york,
        "tonight": tonight,
        "cancelled": cancelled,
        "auto": auto,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"dublin", "cork", "new_york"}),
        ("?live=yes", {"dublin"}),
        ("?live=no", {"cork", "new_york"}),
        ("?country__exact=US", {"new_york"}),
        ("?city__exact=Cork", {"cork"}),
        ("?timezone__exact=Europe/Dublin", {"dublin", "cork"}),
        ("?auto_create_instances__exact=1", {"cork"}),
        ("?auto_create_instances__exact=0", {"dublin", "new_york"}),
        ("?q=cobblestone", {"new_york"}),  # venue
        ("?q=quay", {"dublin"}),  # address
        ("?q=cork", {"cork"}),  # city (and name)
        ("?q=session-", {"dublin", "cork", "new_york"}),  # slug
        ("?q=nowhere", set()),
    ],
)
def test_the_session_list_filters_and_searches(admin_client, listed, query, expected):
    assert changelist_pks(admin_client, SESSIONS + query) == {listed[name].pk for name in expected}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"tonight", "cancelled", "auto"}),
        ("?is_active__exact=1", {"tonight"}),
        ("?is_active__exact=0", {"cancelled", "auto"}),
        ("?is_cancelled__exact=1", {"cancelled"}),
        ("?auto_created__exact=1", {"auto"}),
        ("?session__country__exact=IE", {"tonight", "cancelled"}),
        ("?session__city__exact=New York", {"auto"}),
        ("?date__year=2026&date__month=1&date__day=15", {"tonight"}),  # the date hierarchy
        ("?q=Mueller", {"tonight"}),  # session name and venue
        ("?q=Sin É", {"cancelled"}),  # venue
        ("?q=york", {"auto"}),  # city
        ("?q=nowhere", set()),
    ],
)
def test_the_instance_list_filters_and_searches(admin_client, listed, query, expected):
    assert changelist_pks(admin_client, INSTANCES + query) == {listed[name].pk for name in expected}


def test_the_sweep_log_filters(admin_client):
    def run(**fields) -> SweepRun:
        return SweepRun.objects.create(started_at=EVENING, evaluated_at=EVENING, **fields)

    cron = run(trigger="cron")
    failed = run(trigger="http", status="failed")
    simulated = run(trigger="cron", simulated=True, status="partial")
    assert changelist_pks(admin_client, SWEEP_RUNS) == pks(cron, failed, simulated)
    assert changelist_pks(admin_client, SWEEP_RUNS + "?status__exact=failed") == pks(failed)
    assert changelist_pks(admin_client, SWEEP_RUNS + "?trigger__exact=cron") == pks(cron, simulated)
    assert changelist_pks(admin_client, SWEEP_RUNS + "?simulated__exact=1") == pks(simulated)


# --- query counts ------------------------------------------------------------------------


def sessions_with_instances(n: int, make_session, make_instance, make_person) -> None:
    """``n`` sessions, each with a slot, a live instance and a person placed there."""
    for _ in range(n):
        session = make_session()
        SessionSchedule.objects.create(
            session=session,
            label="Sundays",
            recurrence="RRULE:FREQ=WEEKLY;BYDAY=SU",
            start_time=time(16),
            end_time=time(19),
        )
        instance = make_instance(session, TONIGHT, schedule=session.schedules.get())
        SessionInstance.objects.filter(pk=instance.pk).update(is_active=True)
        make_person(at_active_session_instance=instance)


@pytest.mark.parametrize("changelist", [SESSIONS, INSTANCES, f"{INSTANCES}?is_active__exact=1", SWEEP_RUNS])
def test_changelist_queries_do_not_grow_with_the_rows(
    admin_client, at_evening, make_session, make_instance, make_person, changelist
):
    def grow_to(n: int) -> None:
        while Session.objects.count() < n:
            sessions_with_instances(1, make_session, make_instance, make_person)
            SweepRun.objects.create(started_at=EVENING, evaluated_at=EVENING, trigger="cron", errors=[{"x": 1}])

    grow_to(3)
    with_three = page_queries(admin_client, changelist)
    grow_to(30)
    assert changelist_pks(admin_client, changelist).__len__() == 30
    assert page_queries(admin_client, changelist) == with_three


def test_the_session_form_queries_do_not_grow_with_its_instances(admin_client, at_evening, thursdays, make_instance):
    def grow_to(n: int) -> None:
        for day in range(SessionInstance.objects.count(), n):
            make_instance(thursdays, TONIGHT + timedelta(days=day))

    grow_to(3)
    with_three = page_queries(admin_client, session_url(thursdays))
    grow_to(30)
    assert page_queries(admin_client, session_url(thursdays)) == with_three


def test_every_instance_window_is_shown_in_the_sessions_local_time(
    admin_client, at_evening, make_session, make_instance
):
    new_york = make_session(timezone="America/New_York", start_time=time(20), end_time=time(23))
    instance = make_instance(new_york, date(2026, 7, 4))
    assert instance.active_from == datetime(2026, 7, 4, 23, 0, tzinfo=UTC)  # 19:00 EDT, a 60-minute buffer
    page = admin_client.get(INSTANCES).content.decode()
    assert "2026-07-04 19:00 EDT" in page and "2026-07-05 00:00 EDT" in page
