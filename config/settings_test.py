"""Settings for the test suite: the real settings with test-only conveniences.

Importing this module is what puts config/settings.py in test mode (it looks for this module
being imported, never at the environment): pytest names it in pyproject.toml, and the test
stack's workers (tests/reminders/stack.py) name it in their DJANGO_SETTINGS_MODULE.
"""

from config.settings import *  # noqa: F403

# Hashing with a fast algorithm keeps thousands of logins in the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S303
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
