"""en-gb formats with 24-hour times (Django's en_GB uses "2:30 p.m."): the admin and
every page show times as musicians' posters do, 21:30."""

from django.conf.locale.en_GB.formats import *  # noqa: F403 - a format module extends the locale's

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
