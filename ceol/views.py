"""Site-wide views that belong to no app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_safe


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers (and the admin's pages, which link no icon of ours) ask for
    ``/favicon.ico``: send them to the site's SVG icon. Resolved per request, so the
    static files manifest need not exist when the URLs load."""
    return HttpResponsePermanentRedirect(static("ceol/favicon.svg"))
