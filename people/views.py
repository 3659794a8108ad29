"""A person's page and the buttons on an instance page: Going / Maybe / Not going and
"I'm here". Thin: the services in ``people.services`` decide; a refusal is shown as a
message on the instance page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from people.models import Attendance, Person
from people.services import AttendanceRefused, answer, check_in, person_for_user
from sessions_app.api import current_location, may_see_location
from sessions_app.models import SessionInstance

# Named explicitly so that members log in on the site's own form (the admin's refuses
# non-staff accounts), whatever settings.LOGIN_URL says.
member_required = login_required(login_url="login")


def _person_of(user) -> Person:
    """The user's player profile, created from the account on first use (accounts made in
    the admin may have none yet)."""
    return person_for_user(user)


@member_required
def person_detail(request, pk: int):
    person = get_object_or_404(Person.objects.select_related("at_active_session_instance__session"), pk=pk)
    return render(request, "people/person_detail.html", {
        "person": person,
        "location": current_location(person) if may_see_location(request.user, person) else None,
        "is_me": person.user_id is not None and person.user_id == request.user.pk,
    })


@member_required
def answer_instance(request, pk: int):
    """POST ``status`` = yes / maybe / no. A GET (e.g. back from the login page) just
    shows the instance."""
    instance = get_object_or_404(SessionInstance.objects.select_related("session"), pk=pk)
    if request.method == "POST":
        status = request.POST.get("status", "")
        try:
            answer(person=_person_of(request.user), instance=instance, status=status)
        except AttendanceRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"Your answer for {instance.session.name}: {Attendance.Status(status).label}.")
    return redirect("instance_detail", pk=instance.pk)


@member_required
def check_in_instance(request, pk: int):
    """POST: "I'm here". Redirects to the instance checked in at."""
    instance = get_object_or_404(SessionInstance.objects.select_related("session"), pk=pk)
    if request.method == "POST":
        try:
            check_in(person=_person_of(request.user), instance=instance)
        except AttendanceRefused as refusal:
            messages.error(request, str(refusal))
        else:
            instance.refresh_from_db(fields=["is_active"])
            if instance.is_active:
                messages.success(request, f"You are checked in at {instance.session.name}.")
            else:
                messages.success(
                    request, f"You are going to {instance.session.name}; you will show as here once it is live."
                )
    return redirect("instance_detail", pk=instance.pk)
