"""The site's URLs plus ``/bench/trivial``: a Django view that does nothing, behind the
same middleware, so the benchmark can compare each page with the framework's ceiling.
Only ``bench.load_settings`` routes here; production never does."""

from django.http import HttpResponse
from django.urls import path

from ceol.urls import handler404, handler500  # noqa: F401 (the site's error handlers)
from ceol.urls import urlpatterns as site_urlpatterns


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


def trivial_logged_in(request):
    """The same, but reading the logged-in user: the session and user queries every
    logged-in page pays, and nothing else."""
    return HttpResponse(b"yes" if request.user.is_authenticated else b"no", content_type="text/plain")


urlpatterns = [
    path("bench/trivial", trivial, name="bench_trivial"),
    path("bench/trivial-logged-in", trivial_logged_in, name="bench_trivial_logged_in"),
    *site_urlpatterns,
]
