from datetime import UTC, date, datetime, time

import pytest

from people.models import Person
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import SessionInstance


@pytest.mark.django_db
def test_sweep_activates_and_places_people(make_session, make_instance, make_person, make_attendance):
    session = make_session(timezone="Europe/Dublin", start_time=time(21, 0), end_time=time(23, 0))
    instance = make_instance(session, date(2026, 1, 15))
    person = make_person()
    make_attendance(person, instance, "yes")
    result = update_active_sessions(datetime(2026, 1, 15, 19, 59, tzinfo=UTC))
    assert [a["instance_id"] for a in result["activated"]] == [instance.pk]
    assert result["people_moved"] == [{"person_id": person.pk, "from_instance_id": None, "to_instance_id": instance.pk}]
    person.refresh_from_db()
    assert person.at_active_session_instance_id == instance.pk
    again = update_active_sessions(datetime(2026, 1, 15, 19, 59, tzinfo=UTC))
    assert again["activated"] == again["deactivated"] == again["people_moved"] == []
    later = update_active_sessions(datetime(2026, 1, 16, 0, 0, tzinfo=UTC))
    assert [d["instance_id"] for d in later["deactivated"]] == [instance.pk]
    person.refresh_from_db()
    assert person.at_active_session_instance_id is None
    assert not SessionInstance.objects.filter(is_active=True).exists()
