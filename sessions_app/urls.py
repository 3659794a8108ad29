from django.urls import path
from django.views.generic import RedirectView

from sessions_app import views

urlpatterns = [
    # The session list is the home page; /sessions/ is where people look for it.
    path("sessions/", RedirectView.as_view(pattern_name="home", permanent=False, http_method_names=["get", "head"])),
    path("sessions/<slug:slug>/", views.session_detail, name="session_detail"),
]
