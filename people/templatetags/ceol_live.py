"""``{% viewer_location as here %}``: what the header needs on every page — the viewer's
person id and first name (shown instead of the username), where they are (the same
object ``/api/live`` returns under ``me``) and the poll interval of
``static/ceol/live.js``. One query for a logged-in user, none for anonymous visitors."""

from django import template
from django.conf import settings

from people.api import current_location, person_of_viewer

register = template.Library()

# settings.LIVE_POLL_MS (optional) overrides the 60 s poll, e.g. for browser tests.
DEFAULT_POLL_MS = 60_000


@register.simple_tag(takes_context=True)
def viewer_location(context) -> dict:
    here = {
        "person_id": None,
        "name": "",
        "active_session": None,
        "poll_ms": getattr(settings, "LIVE_POLL_MS", DEFAULT_POLL_MS),
    }
    request = context.get("request")
    user = getattr(request, "user", None)
    person = person_of_viewer(user)
    if person is not None:
        here.update(
            person_id=person.pk,
            name=person.first_name.strip(),
            active_session=current_location(person, user, with_when=True),
        )
    return here
