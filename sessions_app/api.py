"""The JSON API (SPEC section 7): thin views over the sweep and the person services.

Every answer under ``/api/`` is JSON, errors included: ``{"error": "..."}`` with the
right status — 401 anonymous, 403 forbidden or CSRF, 404 unknown, 405 wrong method, 503
when the sweep failed, 500 for anything unexpected (logged, never an HTML page).
"""

from __future__ import annotations

import hmac
import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from sessions_app.active_sessions import SweepFailed, reevaluate, update_active_sessions
from sessions_app.models import Session, SessionInstance, SweepRun

logger = logging.getLogger("ceol.api")

API_PREFIX = "/api/"


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _checked_view(request: HttpRequest) -> HttpResponse:
    """The view the CSRF check below is run for: one without ``csrf_exempt``. Never called."""
    raise AssertionError("the CSRF check does not call its view")


def _csrf_rejected(request: HttpRequest) -> bool:
    """Django's own CSRF check, run inside the view so that a failure can answer in JSON
    (the middleware's failure view is an HTML page)."""
    return CsrfViewMiddleware(_checked_view).process_view(request, _checked_view, (), {}) is not None


def _describe_bad_request(exc: Exception) -> str:
    if isinstance(exc, RequestDataTooBig):
        return "the body is too large."
    if isinstance(exc, TooManyFieldsSent):
        return "too many fields."
    if isinstance(exc, DisallowedHost):
        return "this host is not served here."
    return "the body cannot be read."


def api_endpoint(*methods: str):
    """Allow only ``methods`` (405 otherwise) and turn every failure into a JSON error.

    The view is exempt from the CSRF middleware; views that need CSRF protection call
    ``_csrf_rejected`` after the authentication check, so anonymous callers get 401.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = json_error(f"Method {request.method} not allowed.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except (Http404, ObjectDoesNotExist):
                return json_error("Not found.", 404)
            except PermissionDenied:
                return json_error("Forbidden.", 403)
            except (SuspiciousOperation, BadRequest, MultiPartParserError, UnreadablePostError) as exc:
                # Oversized bodies, too many fields, multipart without a boundary: reading
                # request.POST (e.g. in the CSRF check) raises these.
                return json_error(f"Bad request: {_describe_bad_request(exc)}", 400)
            except Exception:
                logger.exception("API error on %s %s", request.method, request.path)
                return json_error("Internal server error.", 500)

        return csrf_exempt(wrapper)

    return decorate


@api_endpoint("GET", "HEAD")
def session_active_instance(request, session_id: int):
    session = get_object_or_404(Session, pk=session_id)
    ids = list(session.instances.active().order_by("pk").values_list("pk", flat=True))
    return JsonResponse({"session_id": session.pk, "active_instance_ids": ids})


@api_endpoint("POST")
def update_active_status(request, instance_id: int):
    """Staff: re-evaluate this instance's session now (waits for a running sweep)."""
    if not request.user.is_authenticated:
        return json_error("Log in as staff.", 401)
    if _csrf_rejected(request):
        return json_error("CSRF verification failed.", 403)
    if not request.user.is_staff:
        return json_error("Staff only.", 403)
    instance = get_object_or_404(SessionInstance, pk=instance_id)
    was_active = instance.is_active
    try:
        reevaluate(session_ids=[instance.session_id], trigger=SweepRun.Trigger.ADMIN)
    except SweepFailed as exc:
        return json_error(str(exc), 503)
    instance.refresh_from_db(fields=["is_active"])
    return JsonResponse(
        {"instance_id": instance.pk, "is_active": instance.is_active, "changed": instance.is_active != was_active}
    )


def _bearer_token(request) -> bytes | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode()


@api_endpoint("POST")
def cron_check_active_sessions(request):
    """The sweep for an outside scheduler (``trigger="http"``); returns its result dict,
    ``"skipped"`` included when another sweep holds the lock."""
    secret = getattr(settings, "CRON_SECRET", "") or ""
    if not secret:
        return json_error("Not found.", 404)
    token = _bearer_token(request)
    if token is None or not hmac.compare_digest(token, secret.encode()):
        response = json_error("Missing or wrong bearer token.", 401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    try:
        result = update_active_sessions(trigger=SweepRun.Trigger.HTTP)
    except SweepFailed as exc:
        return json_error(str(exc), 503)
    return JsonResponse(result)


def not_found(request, exception=None):
    """``handler404``: JSON under ``/api/``, the site's 404 page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return json_error("Not found.", 404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """``handler400``: JSON under ``/api/`` (a disallowed host, an unreadable body), the
    site's 400 page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return json_error(f"Bad request: {_describe_bad_request(exception)}", 400)
    return defaults.bad_request(request, exception)


def server_error(request):
    """``handler500``: JSON under ``/api/``, the site's 500 page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return json_error("Internal server error.", 500)
    return defaults.server_error(request)
