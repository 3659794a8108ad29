"""Pages. The full site (session and instance pages, check-in) comes with its own issue."""

from django.db.models import OuterRef, Subquery
from django.shortcuts import render

from sessions_app.models import Session, SessionInstance


def home(request):
    live = SessionInstance.objects.filter(session=OuterRef("pk"), is_active=True).values("pk")[:1]
    sessions = Session.objects.annotate(live_instance_id=Subquery(live)).order_by("country", "city", "name")
    for session in sessions:
        session.recurrence_text = describe_rules(session.recurrence)
    return render(request, "home.html", {"sessions": sessions})


def describe_rules(rules) -> str:
    if not rules or not rules.rrules:
        return ""
    try:
        return "; ".join(rule.to_text() for rule in rules.rrules)
    except (AttributeError, ValueError, KeyError):
        return ""
