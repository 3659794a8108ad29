from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path, register_converter

from ceol import views as site_views
from sessions_app import api, health


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
    path(
        "api/session/<id:session_id>/active_instance", api.session_active_instance, name="api_session_active_instance"
    ),
    path(
        "api/session_instance/<id:instance_id>/update_active_status",
        api.update_active_status,
        name="api_update_active_status",
    ),
    path("api/cron/check_active_sessions", api.cron_check_active_sessions, name="api_cron_check_active_sessions"),
    # allauth's views; "login" and "logout" stay the names the site's templates use.
    path(
        "accounts/login/",
        account_views.LoginView.as_view(http_method_names=["get", "head", "post", "options"]),
        name="login",
    ),
    path("accounts/logout/", account_views.logout, name="logout"),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("calendars.urls")),
    # Served by sessions_app.health.HealthCheckMiddleware before the host check; routed
    # here too so that it exists without the middleware.
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("favicon.ico", site_views.favicon, name="favicon"),
]

handler400 = api.bad_request
handler404 = api.not_found
handler500 = api.server_error
