"""Sign-up creates the Person; login by username or email; bad sign-ups leave no
account; allauth's rate limits; password reset by email."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client

from people.models import Person

User = get_user_model()
pytestmark = pytest.mark.django_db

GOOD = {
    "first_name": "Nora",
    "last_name": "Quinn",
    "email": "nora@example.com",
    "password1": "reel-jig-hornpipe-42",
    "password2": "reel-jig-hornpipe-42",
}


def sign_up(client: Client, **changes):
    return client.post("/accounts/signup/", {**GOOD, **changes})


def test_sign_up_creates_the_account_and_the_person_and_logs_in(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    response = sign_up(client)
    assert response.status_code == 302 and response.url == "/"
    user = User.objects.get(email="nora@example.com")
    person = Person.objects.get(user=user)
    assert (person.first_name, person.last_name, person.email) == ("Nora", "Quinn", "nora@example.com")
    assert person.share_location is True and person.calendar_token is not None and len(person.calendar_token) >= 40
    assert client.get("/accounts/profile/").status_code == 200  # logged in
    assert mail.outbox == []  # verification off: no confirmation mail


def test_optional_verification_sends_a_confirmation_mail_and_still_logs_in(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    assert sign_up(client).status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nora@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body
    assert client.get("/accounts/profile/").status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "nora@"}, "email"),
        ({"password1": "password", "password2": "password"}, "password1"),
        ({"password1": "12345678", "password2": "12345678"}, "password1"),
        ({"password1": "Nora", "password2": "Nora"}, "password1"),
        ({"password2": "something-else-entirely"}, "password2"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_a_bad_sign_up_shows_the_form_errors_and_makes_no_account(client, changes, field):
    response = sign_up(client, **changes)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not User.objects.exists() and not Person.objects.exists()


@pytest.mark.parametrize("taken", ["nora@example.com", "NORA@example.com"])
def test_a_taken_email_is_a_form_error(client, taken):
    User.objects.create_user("nora", email="nora@example.com", password="x")
    response = sign_up(client, email=taken)
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert User.objects.count() == 1 and not Person.objects.exists()


def test_login_by_username_or_email_and_logout(client):
    user = User.objects.create_user("aoife", email="aoife@example.com", password="pw-for-aoife")
    for login in ("aoife", "aoife@example.com"):
        response = client.post("/accounts/login/", {"login": login, "password": "pw-for-aoife"})
        assert response.status_code == 302, login
        assert client.session["_auth_user_id"] == str(user.pk)
        assert client.post("/accounts/logout/").url == "/"
        assert "_auth_user_id" not in client.session


def test_a_wrong_password_is_a_form_error(client):
    User.objects.create_user("aoife", password="pw-for-aoife")
    response = client.post("/accounts/login/", {"login": "aoife", "password": "nope"})
    assert response.status_code == 200 and response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_the_demo_logins_work_on_the_site_form():
    call_command("setup_demo_data", stdout=StringIO())
    for username, password in (("demo", "ceol-demo"), ("admin", "ceol-admin")):
        client = Client()
        response = client.post("/accounts/login/", {"login": username, "password": password})
        assert response.status_code == 302, username
        assert client.session["_auth_user_id"] == str(User.objects.get(username=username).pk)


def test_failed_logins_are_rate_limited_per_account(client, settings):
    User.objects.create_user("aoife", password="pw-for-aoife")
    limit = int(settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")[1].split("/")[0])
    for _ in range(limit):
        client.post("/accounts/login/", {"login": "aoife", "password": "wrong"})
    # Now even the right password is refused for a while.
    response = client.post("/accounts/login/", {"login": "aoife", "password": "pw-for-aoife"})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200
    assert "Too many failed login attempts" in str(response.context["form"].errors)


def test_sign_ups_are_rate_limited_per_address(client, settings):
    limit = int(settings.ACCOUNT_RATE_LIMITS["signup"].split("/")[0])
    for n in range(limit):
        assert sign_up(Client(), email=f"player{n}@example.com").status_code == 302
    response = sign_up(Client(), email="one-too-many@example.com")
    assert response.status_code == 429
    assert not User.objects.filter(email="one-too-many@example.com").exists()


def test_password_reset_by_email(client):
    User.objects.create_user("aoife", email="aoife@example.com", password="old-password-1")
    response = client.post("/accounts/password/reset/", {"email": "aoife@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    found = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", str(mail.outbox[0].body))
    assert found is not None, mail.outbox[0].body
    link = found.group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(action, {"password1": "new-password-2x", "password2": "new-password-2x"})
    assert response.status_code == 302
    assert Client().login(username="aoife", password="new-password-2x")
    assert not Client().login(username="aoife", password="old-password-1")


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    User.objects.create_user("aoife", email="aoife@example.com", password="pw")
    known = client.post("/accounts/password/reset/", {"email": "aoife@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302 and known.url == unknown.url
    assert [m.to for m in mail.outbox if m.to == ["aoife@example.com"]]
    assert all("reset/key" not in m.body for m in mail.outbox if m.to == ["nobody@example.com"])


def test_a_changed_account_email_reaches_the_person(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    sign_up(client)
    response = client.post("/accounts/email/", {"action_add": "", "email": "nora.quinn@example.org"})
    assert response.status_code == 302
    user = User.objects.get(email="nora@example.com")
    assert Person.objects.get(user=user).email == "nora@example.com"  # not primary yet
    assert client.post("/accounts/email/", {"action_primary": "", "email": "nora.quinn@example.org"}).status_code == 302
    user.refresh_from_db()
    assert user.email == "nora.quinn@example.org"
    assert Person.objects.get(user=user).email == "nora.quinn@example.org"
