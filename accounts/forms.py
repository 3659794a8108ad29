"""Sign-up (allauth's form plus a name) and the profile form."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django_countries import countries

from people.models import Person
from sessions_app.models import iso_country_codes

SHARE_LOCATION_EFFECT = (
    "When this is on, other members can see which session you are at while it is live; "
    "when it is off, only you and the site's staff can."
)


class SignupForm(AllauthSignupForm):
    """Email and password (allauth's fields and checks) and the name other players see."""

    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, required=False, label="Last name")

    field_order = ["first_name", "last_name", "email", "password1", "password2"]


def country_choices() -> list[tuple[str, str]]:
    """Country names (django-countries) for the ISO 3166-1 alpha-2 codes the models accept."""
    known = iso_country_codes()
    return [("", "—")] + [(code, name) for code, name in countries if not known or code in known]


class ProfileForm(forms.ModelForm):
    country = forms.ChoiceField(choices=country_choices, required=False)

    class Meta:
        model = Person
        fields = ["first_name", "last_name", "city", "country", "share_location"]
        labels = {"share_location": "Show others where I am"}
        help_texts = {"share_location": SHARE_LOCATION_EFFECT}


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, delete my account, my profile and all my answers")
