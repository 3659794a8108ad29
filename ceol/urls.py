from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from sessions_app import api


class IdConverter:
    """A database id: at most 18 digits, so that no id overflows a 64-bit column (an
    overflowing lookup is a database error, not a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("", include("sessions_app.urls")),
    path("", include("people.urls")),
    path("api/session/<id:session_id>/active_instance", api.session_active_instance, name="api_session_active_instance"),
    path("api/session_instance/<id:instance_id>/update_active_status", api.update_active_status,
         name="api_update_active_status"),
    path("api/cron/check_active_sessions", api.cron_check_active_sessions, name="api_cron_check_active_sessions"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True, http_method_names=["get", "head", "post", "options"]), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="home"), name="logout"),
    path("admin/", admin.site.urls),
]

handler400 = api.bad_request
handler404 = api.not_found
handler500 = api.server_error
