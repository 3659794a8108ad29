"""Settings of the load benchmark's server (``python bench/load.py``): the production
settings plus one route, ``/bench/trivial``, that the site itself never has."""

from ceol.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.load_urls"
