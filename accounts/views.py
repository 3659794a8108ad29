"""The player's own pages: profile (with the calendar feed and account deletion) and
"My sessions". Sign-up, login, logout and password reset are allauth's views.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.forms import DeleteAccountForm, ProfileForm
from accounts.services import delete_account, my_sessions
from people.models import Person
from people.services import person_for_user
from people.views import member_required
from sessions_app import clock


@member_required
def profile(request):
    person = person_for_user(request.user)
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=person)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "person": person,
            "form": form,
            "feed_path": reverse("person_calendar", args=[person.calendar_token]),
        },
    )


@require_POST
@member_required
def renew_calendar_token(request):
    person_for_user(request.user).renew_calendar_token()
    messages.success(request, "Your calendar has a new address: the old one no longer works. Subscribe again.")
    return redirect("profile")


def delete_account_view(request, pk: int):
    """GET asks for confirmation, POST (confirmed) deletes. A person who no longer exists
    (deleted twice) or is someone else's answers 404."""
    person = Person.objects.filter(pk=pk).select_related("user").first()
    if person is None or person.user_id is None:
        raise Http404
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("login"))
    if person.user_id != request.user.pk:
        raise Http404
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        delete_account(user=user)
        messages.success(request, "Your account, your profile and your answers are deleted.")
        return redirect("home")
    return render(request, "accounts/delete_account.html", {"person": person, "form": form})


@require_safe
@member_required
def my_sessions_view(request):
    person = person_for_user(request.user)
    upcoming, history = my_sessions(person=person, now=clock.now())
    return render(request, "accounts/my_sessions.html", {"person": person, "upcoming": upcoming, "history": history})
