"""Settings for the test suite: the real settings with a throwaway secret key."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# The session cache (cached_db over files) of this test process only, removed at exit.
if not os.environ.get("SESSION_CACHE_DIR"):
    os.environ["SESSION_CACHE_DIR"] = tempfile.mkdtemp(prefix="ceol-test-sessions-")
    atexit.register(shutil.rmtree, os.environ["SESSION_CACHE_DIR"], ignore_errors=True)

from ceol.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# The test client and the browser tests' live server speak plain HTTP; production's
# HTTPS settings are tested in a subprocess with the real settings
# (tests/ceol/test_settings.py).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
