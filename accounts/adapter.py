"""allauth's hook into account creation: every sign-up gets its Person in the same
transaction (SPEC 7, issue 9)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from people.services import person_for_user


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        data = form.cleaned_data
        user.first_name = data.get("first_name", "").strip()
        user.last_name = data.get("last_name", "").strip()
        if commit:
            with transaction.atomic():
                user.save()
                person_for_user(user)
        return user
