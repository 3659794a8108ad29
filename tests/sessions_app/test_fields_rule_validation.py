"""Validation before saving (issue 6, item 6): a rule django-recurrence cannot write back
is a form error, and EXDATE/RDATE with a TZID mean that zone's wall clock, never UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurrence
from django.core.exceptions import ValidationError
from django.db import connection

from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session
from sessions_app.occurrences import RecurrenceError, occurrence_starts, parse_rules
from tests.site_helpers import login_client

NEW_YORK = ZoneInfo("America/New_York")
INTERVAL_ZERO = "RRULE:FREQ=WEEKLY;INTERVAL=0;BYDAY=TH"
DEC_24_EXDATE_NY = "EXDATE;TZID=America/New_York:19971224T020000"


# --- the parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (INTERVAL_ZERO, "INTERVAL must be 1 or more"),
        ("RRULE:FREQ=DAILY;COUNT=0", "COUNT must be 1 or more"),
        ("every second Tuesday", "Unparsable recurrence"),
        ("RRULE:FREQ=WEEKLY;BYDAY=XX", "bad weekday value"),
        ("RRULE:FREQ=DAILY\nEXDATE:20261345T000000Z", "month must be in 1..12"),
        ("RRULE:FREQ=HOURLY", "more than one start a day"),
        ("RRULE:FREQ=DAILY\nEXDATE;TZID=Mars/Olympus:19971224T020000", "unknown time zone TZID=Mars/Olympus"),
        ("RRULE:FREQ=DAILY\nEXDATE;TZID=America/New_York:19971224T020000Z", "needs a local date-time"),
        ("RRULE:FREQ=DAILY\nRDATE;VALUE=PERIOD:19970101T180000Z/PT5H30M", "VALUE=PERIOD"),
    ],
)
def test_parse_rules_refuses_with_a_clear_message(text, message):
    with pytest.raises(RecurrenceError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_rules(text)


def test_parse_rules_reads_a_tzid_time_as_that_zones_wall_clock():
    rules = parse_rules(f"RRULE:FREQ=DAILY\n{DEC_24_EXDATE_NY}")
    # 02:00 in New York on Dec 24 1997 (EST, UTC-5) is 07:00 UTC, not 02:00 UTC (Dec 23 there).
    assert rules.exdates == [datetime(1997, 12, 24, 7, 0, tzinfo=UTC)]
    summer = parse_rules("RDATE;TZID=America/New_York:19970704T190000,19970705T190000")
    assert summer.rdates == [datetime(1997, 7, 4, 23, 0, tzinfo=UTC), datetime(1997, 7, 5, 23, 0, tzinfo=UTC)]


def test_parse_rules_keeps_plain_rules_and_dates_as_django_recurrence_reads_them():
    text = "RRULE:FREQ=WEEKLY;BYDAY=TH\nEXDATE:20260122T000000Z"
    assert parse_rules(text) == recurrence.deserialize(text)
    assert parse_rules("") == recurrence.Recurrence()
    assert parse_rules("EXDATE;VALUE=DATE:19971224").exdates == [datetime(1997, 12, 24, tzinfo=UTC)]


def test_the_dec_24_exdate_in_new_york_removes_dec_24_not_dec_23():
    rules = parse_rules(f"RRULE:FREQ=DAILY\n{DEC_24_EXDATE_NY}")
    starts = occurrence_starts(
        rules,
        anchor_date=date(1997, 12, 20),
        start_time=time(2, 0),
        tz=NEW_YORK,
        after=datetime(1997, 12, 22, tzinfo=UTC),
        before=datetime(1997, 12, 27, tzinfo=UTC),
    )
    assert [s.date() for s in starts] == [
        date(1997, 12, 22),
        date(1997, 12, 23),
        date(1997, 12, 25),
        date(1997, 12, 26),
    ]


# --- the model and the admin -------------------------------------------------------------


@pytest.mark.django_db
def test_full_clean_refuses_a_rule_that_save_could_not_write(make_session):
    session = make_session(initiation_date=date(2026, 1, 1))
    session.recurrence = recurrence.Recurrence(
        rrules=[recurrence.Rule(recurrence.WEEKLY, interval=0, byday=[recurrence.TH])]
    )
    with pytest.raises(ValidationError) as refused:
        session.full_clean()
    assert refused.value.message_dict["recurrence"] == ["Invalid recurrence: INTERVAL must be 1 or more (got 0)"]
    session.recurrence = INTERVAL_ZERO  # as text: the same parser, the same message
    with pytest.raises(ValidationError) as refused:
        session.full_clean()
    assert refused.value.message_dict["recurrence"] == ["Invalid recurrence: INTERVAL must be 1 or more (got 0)"]


def session_form(**overrides) -> dict:
    data = {
        "name": "Thursday Trad",
        "slug": "thursday-trad",
        "venue_name": "The Cobblestone",
        "address": "",
        "city": "New York",
        "country": "US",
        "timezone": "America/New_York",
        "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=TH",
        "initiation_date": "2026-01-01",
        "start_time": "02:00",
        "end_time": "04:00",
        "termination_date": "",
        "active_buffer_minutes_before": "60",
        "active_buffer_minutes_after": "60",
        "auto_create_hours_ahead": "24",
        "instances-TOTAL_FORMS": "0",
        "instances-INITIAL_FORMS": "0",
        "instances-MIN_NUM_FORMS": "0",
        "instances-MAX_NUM_FORMS": "1000",
        "schedules-TOTAL_FORMS": "0",
        "schedules-INITIAL_FORMS": "0",
        "schedules-MIN_NUM_FORMS": "0",
        "schedules-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client_(db):
    from django.contrib.auth.models import User

    return login_client(User.objects.create_superuser("root", password="pw"))


@pytest.mark.django_db
def test_the_admin_answers_an_interval_of_zero_with_a_form_error(admin_client_):
    response = admin_client_.post("/admin/sessions_app/session/add/", session_form(recurrence=INTERVAL_ZERO))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["recurrence"] == ["Invalid recurrence: INTERVAL must be 1 or more (got 0)"]
    assert "INTERVAL must be 1 or more" in response.content.decode()
    assert not Session.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_an_unknown_tzid_and_saves_a_known_one_as_its_instant(admin_client_):
    refused = admin_client_.post(
        "/admin/sessions_app/session/add/",
        session_form(recurrence="RRULE:FREQ=DAILY\nEXDATE;TZID=Mars/Olympus:20261224T020000"),
    )
    assert refused.status_code == 200
    assert "unknown time zone TZID=Mars/Olympus" in str(refused.context["adminform"].form.errors["recurrence"])

    saved = admin_client_.post(
        "/admin/sessions_app/session/add/",
        session_form(recurrence="RRULE:FREQ=DAILY\nEXDATE;TZID=America/New_York:20261224T020000"),
    )
    assert saved.status_code == 302
    stored = Session.objects.values_list("recurrence", flat=True).get()
    assert stored.exdates == [datetime(2026, 12, 24, 7, 0, tzinfo=UTC)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT recurrence FROM {Session._meta.db_table}")
        assert cursor.fetchone()[0] == "RRULE:FREQ=DAILY\nEXDATE:20261224T070000Z"


# --- the stored-text path: the sweep ---------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_honours_a_tzid_exdate_stored_as_text(make_session):
    session = make_session(
        name="Late Night",
        city="New York",
        country="US",
        timezone="America/New_York",
        start_time=time(2, 0),
        end_time=time(4, 0),
        initiation_date=date(2026, 12, 1),
        auto_create_instances=True,
        auto_create_hours_ahead=96,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Session._meta.db_table} SET recurrence = %s, auto_create_due_at = %s WHERE id = %s",
            ["RRULE:FREQ=DAILY\nEXDATE;TZID=America/New_York:20261224T020000", None, session.pk],
        )
    result = update_active_sessions(datetime(2026, 12, 22, 12, 0, tzinfo=UTC) - timedelta(minutes=1), full=True)
    assert result["errors"] == []
    dates = sorted(session.instances.values_list("date", flat=True))
    assert dates == [date(2026, 12, 23), date(2026, 12, 25), date(2026, 12, 26)]


@pytest.mark.django_db
def test_the_sweep_reports_an_interval_of_zero_stored_as_text(make_session):
    session = make_session(auto_create_instances=True, initiation_date=date(2026, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Session._meta.db_table} SET recurrence = %s, auto_create_due_at = %s WHERE id = %s",
            [INTERVAL_ZERO, None, session.pk],
        )
    result = update_active_sessions(datetime(2026, 1, 14, 12, 0, tzinfo=UTC), full=True)
    assert result["errors"] == [
        {"session_id": session.pk, "error": "Invalid recurrence: INTERVAL must be 1 or more (got 0)"}
    ]
    assert not session.instances.exists()


def test_an_unreadable_stored_value_is_never_expanded_as_no_occurrences():
    from sessions_app.fields import load_rules

    unreadable = load_rules("every second Tuesday")
    assert unreadable.unreadable and unreadable.text == "every second Tuesday"
    with pytest.raises(RecurrenceError, match="malformed data"):
        occurrence_starts(
            unreadable,
            anchor_date=date(2026, 1, 1),
            start_time=time(21, 0),
            tz=NEW_YORK,
            after=datetime(2026, 1, 1, tzinfo=UTC),
            before=datetime(2026, 2, 1, tzinfo=UTC),
        )
