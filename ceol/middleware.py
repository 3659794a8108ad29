"""Site-wide HTTP rules that no single view should have to repeat."""

from __future__ import annotations

from django.http import HttpResponseNotAllowed

PAGE_METHODS = ["GET", "HEAD", "POST", "OPTIONS"]


class PageMethodsMiddleware:
    """The site's pages (its own, allauth's and the admin's) take GET, HEAD, POST and
    OPTIONS only: any other method is a 405 before a view runs. Django's generic form
    views would otherwise treat PUT as POST. The JSON API under ``/api/`` decides its
    methods per endpoint (and answers in JSON)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in PAGE_METHODS and not request.path.startswith("/api/"):
            return HttpResponseNotAllowed(PAGE_METHODS)
        return self.get_response(request)
