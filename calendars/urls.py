from django.urls import path, register_converter

from calendars import views


class TokenConverter:
    """A calendar token's shape (``secrets.token_urlsafe``); anything else is a plain 404."""

    regex = "[A-Za-z0-9_-]{20,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


register_converter(TokenConverter, "calendar_token")

urlpatterns = [
    path("sessions/<slug:slug>/calendar.ics", views.session_calendar, name="session_calendar"),
    path("calendar/<calendar_token:token>.ics", views.person_calendar, name="person_calendar"),
]
