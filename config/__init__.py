from .celery import app as celery_app

# The release, shown in the page footer and by /health/live (CHANGELOG.md lists each one).
__version__ = "1.0.0"

__all__ = ("celery_app", "__version__")
