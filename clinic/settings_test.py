"""Settings for the test suite: the real settings with test-only conveniences."""

import os

os.environ.setdefault("DJANGO_TESTING", "true")

from clinic.settings import *  # noqa: E402,F403

# Hashing with a fast algorithm keeps thousands of logins in the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S303
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
