"""Further time slots (``SessionSchedule``, SPEC 1): validation, auto-create per slot, the
change hooks, activation across slots, bad rules written around the models, and the
schedule in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance, SessionSchedule
from sessions_app.views import describe_schedule
from tests.site_helpers import utc

pytestmark = pytest.mark.django_db

TUESDAYS = "RRULE:FREQ=WEEKLY;BYDAY=TU"
SUNDAYS = "RRULE:FREQ=WEEKLY;BYDAY=SU"
EVERY_OTHER_SUNDAY = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU"


def sweep_at(t: datetime) -> dict:
    return update_active_sessions(t - settings.ACTIVE_SESSION_LOOKAHEAD)


def sweep_daily(first: date, last: date, at: time = time(12, 0)) -> None:
    day = first
    while day <= last:
        sweep_at(datetime.combine(day, at, tzinfo=UTC))
        day += timedelta(days=1)


@pytest.fixture
def two_slot_session(make_session):
    """Tuesdays 21:00-23:30 (the main slot) and a further slot, auto-created."""

    def make(rules: str = SUNDAYS, start: time = time(16, 0), end: time = time(19, 0), **fields):
        values = {"auto_create_instances": True, "initiation_date": date(2026, 1, 6), "recurrence": TUESDAYS}
        values.update(fields)
        session = make_session(**values)
        slot = SessionSchedule(session=session, recurrence=rules, start_time=start, end_time=end, label="Sunday")
        slot.full_clean()
        slot.save()
        return session, slot

    return make


def rows(session: Session) -> list[tuple]:
    """(date, start, slot id) of the session's instances, by start."""
    return list(session.instances.order_by("starts_at").values_list("date", "start_time", "schedule_id"))


def starts(session: Session) -> list[datetime | None]:
    return list(session.instances.order_by("starts_at").values_list("starts_at", flat=True))


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, message",
    [
        ("RRULE:FREQ=HOURLY", "more than one start a day"),
        ("RRULE:FREQ=DAILY;BYHOUR=10,20", "more than one start a day"),
    ],
)
def test_a_slot_with_more_than_one_start_a_day_is_refused(make_session, rules, message):
    slot = SessionSchedule(session=make_session(), recurrence=rules, start_time=time(16), end_time=time(19))
    with pytest.raises(ValidationError) as caught:
        slot.full_clean()
    assert message in str(caught.value.message_dict["recurrence"])


def test_every_n_weeks_needs_the_sessions_initiation_date(make_session):
    slot = SessionSchedule(
        session=make_session(), recurrence=EVERY_OTHER_SUNDAY, start_time=time(16), end_time=time(19)
    )
    with pytest.raises(ValidationError) as caught:
        slot.full_clean()
    assert "initiation date" in str(caught.value.message_dict["recurrence"])
    slot.session.initiation_date = date(2026, 1, 6)
    slot.full_clean()  # anchored: fine


def test_the_session_keeps_its_first_date_while_a_slot_counts_from_it(two_slot_session):
    session, _ = two_slot_session(EVERY_OTHER_SUNDAY)
    session.initiation_date = None
    with pytest.raises(ValidationError) as caught:
        session.full_clean()
    assert "further time slot" in str(caught.value.message_dict["initiation_date"])


def test_start_end_and_rules_are_required(make_session):
    slot = SessionSchedule(session=make_session())
    with pytest.raises(ValidationError) as caught:
        slot.full_clean()
    assert {"recurrence", "start_time", "end_time"} <= set(caught.value.message_dict)


class SlotForm(forms.ModelForm):
    class Meta:
        model = SessionSchedule
        fields = ["session", "recurrence", "start_time", "end_time", "label"]


@pytest.mark.parametrize(
    "rules",
    ["not a rule at all", "RRULE:FREQ=FORTNIGHTLY", "RRULE:FREQ=HOURLY", "RRULE:FREQ=WEEKLY;INTERVAL=0;BYDAY=SU"],
)
def test_an_unparsable_or_unsupported_rule_is_a_form_error(make_session, rules):
    session = make_session(initiation_date=date(2026, 1, 6))
    form = SlotForm(data={"session": session.pk, "recurrence": rules, "start_time": "16:00", "end_time": "19:00"})
    assert not form.is_valid()
    assert "recurrence" in form.errors
    assert not SessionSchedule.objects.exists()


def test_a_new_instance_of_a_slot_copies_the_slots_times(two_slot_session, make_instance):
    session, slot = two_slot_session(auto_create_instances=False)
    of_slot = make_instance(session, date(2026, 1, 11), schedule=slot)
    of_main = make_instance(session, date(2026, 1, 13))
    assert (of_slot.start_time, of_slot.end_time) == (time(16), time(19))
    assert (of_main.start_time, of_main.end_time) == (time(21), time(23, 30))
    assert of_slot.starts_at == utc(2026, 1, 11, 16)


# --- auto-create -----------------------------------------------------------------------


def test_two_slots_on_different_weekdays_across_the_dublin_spring_change(two_slot_session):
    session, slot = two_slot_session(timezone="Europe/Dublin")
    sweep_daily(date(2026, 3, 21), date(2026, 4, 1))
    assert rows(session) == [
        (date(2026, 3, 22), time(16), slot.pk),
        (date(2026, 3, 24), time(21), None),
        (date(2026, 3, 29), time(16), slot.pk),
        (date(2026, 3, 31), time(21), None),
    ]
    # GMT, GMT, then IST (UTC+1) from 29 March: the wall-clock times stay.
    assert starts(session) == [utc(2026, 3, 22, 16), utc(2026, 3, 24, 21), utc(2026, 3, 29, 15), utc(2026, 3, 31, 20)]
    assert session.instances.filter(auto_created=True).count() == 4


def test_two_slots_on_different_weekdays_across_the_new_york_autumn_change(two_slot_session):
    session, slot = two_slot_session(timezone="America/New_York", start_time=time(20), end_time=time(23))
    sweep_daily(date(2026, 10, 24), date(2026, 11, 4))
    assert rows(session) == [
        (date(2026, 10, 25), time(16), slot.pk),
        (date(2026, 10, 27), time(20), None),
        (date(2026, 11, 1), time(16), slot.pk),
        (date(2026, 11, 3), time(20), None),
    ]
    # EDT (UTC-4) until 1 November, EST (UTC-5) from then on.
    assert starts(session) == [utc(2026, 10, 25, 20), utc(2026, 10, 28, 0), utc(2026, 11, 1, 21), utc(2026, 11, 4, 1)]


def test_a_slot_past_midnight_ends_the_next_day_and_is_live_after_midnight(two_slot_session):
    session, slot = two_slot_session("RRULE:FREQ=WEEKLY;BYDAY=SA", start=time(22, 30), end=time(1, 0))
    sweep_at(utc(2026, 1, 17, 12))
    late = session.instances.get(schedule=slot)
    assert late.date == date(2026, 1, 17)
    assert (late.starts_at, late.ends_at) == (utc(2026, 1, 17, 22, 30), utc(2026, 1, 18, 1))
    result = sweep_at(utc(2026, 1, 18, 0, 30))  # Sunday 00:30 in Dublin
    assert [a["instance_id"] for a in result["activated"]] == [late.pk]


def test_an_every_other_week_slot_counts_from_the_initiation_date(two_slot_session):
    # The first date is Tuesday 6 January: its week is week one, so Sunday 11 January is
    # on, the 18th off, the 25th on.
    session, slot = two_slot_session(EVERY_OTHER_SUNDAY, auto_create_hours_ahead=168)
    sweep_daily(date(2026, 1, 5), date(2026, 2, 2))
    sundays = list(session.instances.filter(schedule=slot).order_by("date").values_list("date", flat=True))
    assert sundays == [date(2026, 1, 11), date(2026, 1, 25), date(2026, 2, 8)]
    tuesdays = list(session.instances.filter(schedule=None).order_by("date").values_list("date", flat=True))
    assert tuesdays == [date(2026, 1, 6), date(2026, 1, 13), date(2026, 1, 20), date(2026, 1, 27), date(2026, 2, 3)]


def test_no_duplicates_and_no_resurrection_per_slot(two_slot_session):
    session, slot = two_slot_session("RRULE:FREQ=WEEKLY;BYDAY=TU", start=time(16), end=time(18))
    sweep_at(utc(2026, 1, 13, 12))
    sweep_at(utc(2026, 1, 13, 12, 15))
    assert rows(session) == [(date(2026, 1, 13), time(16), slot.pk), (date(2026, 1, 13), time(21), None)]
    # Deleting the slot's instance leaves the main one, and the next sweeps make no new one.
    session.instances.get(schedule=slot).delete()
    sweep_at(utc(2026, 1, 13, 13))
    sweep_at(utc(2026, 1, 13, 14))
    assert rows(session) == [(date(2026, 1, 13), time(21), None)]


def test_two_slots_starting_at_the_same_time_on_one_date_make_one_instance(two_slot_session):
    session, slot = two_slot_session("RRULE:FREQ=WEEKLY;BYDAY=TU,SU", start=time(21), end=time(23))
    result = sweep_at(utc(2026, 1, 13, 12))
    # Tuesday: the main slot has 21:00; the slot does not collide with it.
    assert result["errors"] == []
    assert rows(session) == [(date(2026, 1, 13), time(21), None)]
    sweep_daily(date(2026, 1, 14), date(2026, 1, 18))
    assert rows(session) == [(date(2026, 1, 13), time(21), None), (date(2026, 1, 18), time(21), slot.pk)]


def test_a_hand_edited_instance_of_a_slot_stands_for_its_date(two_slot_session):
    session, slot = two_slot_session(auto_create_hours_ahead=168)
    sweep_at(utc(2026, 1, 10, 12))
    sunday = session.instances.get(schedule=slot)
    sunday.start_time = time(15)
    sunday.save()
    sweep_at(utc(2026, 1, 10, 13))
    assert session.instances.filter(schedule=slot).count() == 1


# --- slot changes ----------------------------------------------------------------------


WEEKENDS = "RRULE:FREQ=WEEKLY;BYDAY=SA,SU"


def test_a_slot_time_change_moves_its_future_instances_with_and_without_answers(
    two_slot_session, make_person, make_attendance, clock, django_capture_on_commit_callbacks
):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    saturday, sunday = session.instances.filter(schedule=slot).order_by("date")
    answer = make_attendance(make_person(), sunday, "yes")

    slot.start_time, slot.end_time = time(17), time(20)
    with django_capture_on_commit_callbacks(execute=True):
        slot.save()
    # Both move, the one with an answer keeps it; the main slot's Tuesday does not move,
    # and the re-evaluation on commit creates nothing more (same dates, same slot).
    assert rows(session) == [
        (date(2026, 1, 10), time(17), slot.pk),
        (date(2026, 1, 11), time(17), slot.pk),
        (date(2026, 1, 13), time(21), None),
    ]
    saturday.refresh_from_db()
    sunday.refresh_from_db()
    assert (saturday.end_time, saturday.starts_at, saturday.ends_at) == (
        time(20),
        utc(2026, 1, 10, 17),
        utc(2026, 1, 10, 20),
    )
    assert sunday.starts_at == utc(2026, 1, 11, 17)
    assert list(sunday.attendances.all()) == [answer]


def test_a_slot_time_change_keeps_an_individually_edited_instance(two_slot_session, clock):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    saturday = session.instances.get(schedule=slot, date=date(2026, 1, 10))
    saturday.start_time = time(15)
    saturday.save()
    slot.start_time = time(17)
    slot.save()
    assert session.instances.get(pk=saturday.pk).start_time == time(15)
    assert session.instances.get(schedule=slot, date=date(2026, 1, 11)).start_time == time(17)


def test_a_slot_rules_change_removes_its_answerless_future_instances_only(
    two_slot_session, make_person, make_attendance, clock
):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    saturday, sunday = session.instances.filter(schedule=slot).order_by("date")
    make_attendance(make_person(), sunday, "maybe")

    slot.recurrence = "RRULE:FREQ=WEEKLY;BYDAY=MO"
    slot.save()
    session.refresh_from_db()
    assert session.auto_created_until is None and session.auto_create_due_at is None  # restarted
    clock.set(t + timedelta(minutes=5))
    sweep_at(t + timedelta(minutes=5))
    # Saturday had no answer: gone. Sunday has one: kept. Monday comes.
    assert rows(session) == [
        (date(2026, 1, 11), time(16), slot.pk),
        (date(2026, 1, 12), time(16), slot.pk),
        (date(2026, 1, 13), time(21), None),
    ]
    assert session.instances.get(date=date(2026, 1, 11)).pk == sunday.pk


def test_a_deleted_slot_takes_its_answerless_future_instances_with_it(
    two_slot_session, make_person, make_attendance, clock, django_capture_on_commit_callbacks
):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    past = SessionInstance.objects.create(session=session, schedule=slot, date=date(2026, 1, 4))
    sweep_at(t)
    saturday, sunday = session.instances.filter(schedule=slot, date__gt=date(2026, 1, 9)).order_by("date")
    make_attendance(make_person(), sunday, "yes")

    with django_capture_on_commit_callbacks(execute=True):
        slot.delete()
    remaining = {i.pk: i for i in session.instances.all()}
    assert saturday.pk not in remaining
    # The answered one and the past one stay, as instances of no slot.
    assert remaining[sunday.pk].schedule_id is None and not remaining[sunday.pk].auto_created
    assert remaining[past.pk].schedule_id is None
    assert sunday.attendances.count() == 1
    # Nothing comes back on later sweeps; the main slot goes on.
    for day in range(10, 21):
        clock.set(utc(2026, 1, day, 12))
        sweep_at(utc(2026, 1, day, 12))
    assert sorted(session.instances.values_list("date", "start_time")) == [
        (date(2026, 1, 4), time(16)),
        (date(2026, 1, 11), time(16)),
        (date(2026, 1, 13), time(21)),
        (date(2026, 1, 20), time(21)),
    ]


def test_saving_a_slot_creates_its_instances_on_commit(two_slot_session, clock, django_capture_on_commit_callbacks):
    clock.set(utc(2026, 1, 11, 6) - settings.ACTIVE_SESSION_LOOKAHEAD)
    session = Session.objects.create(
        name="Hooked",
        slug="hooked",
        venue_name="Pub",
        city="Dublin",
        country="IE",
        timezone="Europe/Dublin",
        auto_create_instances=True,
        initiation_date=date(2026, 1, 6),
    )
    with django_capture_on_commit_callbacks(execute=True):
        SessionSchedule.objects.create(session=session, recurrence=SUNDAYS, start_time=time(16), end_time=time(19))
    # A session with no main rules and no times, only a further slot.
    assert rows(session) == [(date(2026, 1, 11), time(16), session.schedules.get().pk)]


def test_a_main_slot_time_change_leaves_the_other_slots_instances_alone(two_slot_session, clock):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(
        "RRULE:FREQ=WEEKLY;BYDAY=SU", start=time(21), end=time(23), auto_create_hours_ahead=168
    )
    sweep_at(t)
    session.refresh_from_db()
    session.start_time = time(20)
    session.save()
    assert session.instances.get(schedule=None).start_time == time(20)
    assert session.instances.get(schedule=slot).start_time == time(21)


# --- activation ------------------------------------------------------------------------


def test_main_and_slot_instances_overlapping_on_one_date_the_later_start_is_active(make_session):
    session = make_session(
        auto_create_instances=True,
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=SA",
        initiation_date=date(2026, 1, 3),
        start_time=time(15),
        end_time=time(18),
    )
    slot = SessionSchedule.objects.create(
        session=session, recurrence="RRULE:FREQ=WEEKLY;BYDAY=SA", start_time=time(17), end_time=time(23)
    )
    sweep_at(utc(2026, 1, 17, 12))
    afternoon = session.instances.get(schedule=None)
    evening = session.instances.get(schedule=slot)
    assert afternoon.date == evening.date == date(2026, 1, 17)

    result = sweep_at(utc(2026, 1, 17, 15))
    assert [a["instance_id"] for a in result["activated"]] == [afternoon.pk]
    # From 16:00 (the evening's buffer) both qualify: the later start takes over (SPEC 3.2).
    result = sweep_at(utc(2026, 1, 17, 16))
    assert [a["instance_id"] for a in result["deactivated"]] == [afternoon.pk]
    assert [a["instance_id"] for a in result["activated"]] == [evening.pk]
    assert list(SessionInstance.objects.active().values_list("pk", flat=True)) == [evening.pk]


# --- bad data written around the models ------------------------------------------------


def write_rules_around_the_models(slot: SessionSchedule, text: str) -> None:
    table = SessionSchedule._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET recurrence = %s WHERE id = %s", [text, slot.pk])


@pytest.mark.parametrize(
    "text, error",
    [
        ("RRULE:FREQ=FORTNIGHTLY", "Unparsable recurrence"),
        ("RRULE:FREQ=HOURLY", "Unsupported recurrence"),
    ],
)
def test_a_broken_slot_is_its_sessions_error_and_the_other_slots_still_work(
    two_slot_session, client, admin_client, text, error
):
    session, broken = two_slot_session(SUNDAYS)
    good = SessionSchedule.objects.create(
        session=session,
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO",
        start_time=time(12),
        end_time=time(14),
        label="Monday lunch",
    )
    write_rules_around_the_models(broken, text)
    first = sweep_at(utc(2026, 1, 11, 12))
    assert [(e["session_id"], e["schedule_id"]) for e in first["errors"]] == [(session.pk, broken.pk)]
    assert error in first["errors"][0]["error"]
    for t in (utc(2026, 1, 12, 9), utc(2026, 1, 13, 12)):  # whenever the session is due again
        assert {(e["session_id"], e["schedule_id"]) for e in sweep_at(t)["errors"]} <= {(session.pk, broken.pk)}
    assert session.instances.filter(schedule=good, date=date(2026, 1, 12)).exists()
    assert session.instances.filter(schedule=None, date=date(2026, 1, 13)).exists()
    assert not session.instances.filter(schedule=broken).exists()
    # No page breaks: the list, the session page (the good slots in words), the admin lists.
    assert client.get("/").status_code == 200
    page = client.get(f"/sessions/{session.slug}/")
    assert page.status_code == 200
    assert "Mondays 12:00–14:00 (Monday lunch)" in page.content.decode()
    assert admin_client.get("/admin/sessions_app/sessioninstance/").status_code == 200
    change = admin_client.get(f"/admin/sessions_app/session/{session.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    # The broken slot's form shows the stored text and the reason above the editor, to be fixed.
    assert 'name="schedules-1-id"' in html and 'value="Monday lunch"' in html
    assert "The stored schedule cannot be read" in html and error in html


# --- words -----------------------------------------------------------------------------


def test_the_schedule_in_words_lists_every_slot(two_slot_session, client):
    session, _ = two_slot_session(EVERY_OTHER_SUNDAY, start_time=time(21), end_time=time(23, 30))
    SessionSchedule.objects.filter(session=session).update(label="")
    slots = SessionSchedule.objects.as_text_by_session([session.pk])[session.pk]
    assert describe_schedule(session, slots) == "Tuesdays 21:00–23:30 · every other Sunday 16:00–19:00"
    home = client.get("/").content.decode()
    assert "Tuesdays 21:00–23:30 · every other Sunday 16:00–19:00" in home
    page = client.get(f"/sessions/{session.slug}/").content.decode()
    assert "Tuesdays 21:00–23:30 · every other Sunday 16:00–19:00 local time" in page


def test_deleting_a_session_with_slots_and_instances_deletes_everything(
    two_slot_session, make_person, make_attendance, clock, django_capture_on_commit_callbacks
):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    make_attendance(make_person(), session.instances.get(schedule=slot, date=date(2026, 1, 11)), "yes")
    with django_capture_on_commit_callbacks(execute=True):
        session.delete()
    assert not SessionSchedule.objects.exists()
    assert not SessionInstance.objects.exists()


def test_slots_can_be_deleted_in_bulk(two_slot_session, clock):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    SessionSchedule.objects.filter(session=session).delete()
    assert rows(session) == [(date(2026, 1, 13), time(21), None)]


def test_unreadable_main_rules_are_an_error_while_the_further_slot_still_works(two_slot_session):
    session, slot = two_slot_session(SUNDAYS)
    Session.objects.filter(pk=session.pk).update(recurrence="RRULE:FREQ=FORTNIGHTLY")
    result = sweep_at(utc(2026, 1, 11, 6))
    assert [(e["session_id"], "schedule_id" in e) for e in result["errors"]] == [(session.pk, False)]
    assert result["errors"][0]["error"].startswith("Unparsable recurrence")
    assert rows(session) == [(date(2026, 1, 11), time(16), slot.pk)]


def test_the_session_page_lists_the_upcoming_instances_of_all_slots_in_date_order(two_slot_session, client, clock):
    t = utc(2026, 1, 9, 12)
    clock.set(t)
    session, slot = two_slot_session(WEEKENDS, auto_create_hours_ahead=168)
    sweep_at(t)
    html = client.get(f"/sessions/{session.slug}/").content.decode()
    upcoming = html[html.index("<h2>Coming up</h2>") :]
    ids = [i.pk for i in session.instances.order_by("starts_at")]
    assert len(ids) == 3  # Saturday and Sunday of the slot, Tuesday of the main slot
    positions = [upcoming.index(f'href="/instances/{pk}/"') for pk in ids]
    assert positions == sorted(positions)
    assert "Saturday 10 January 2026, 16:00 GMT" in upcoming and "Tuesday 13 January 2026, 21:00 GMT" in upcoming
