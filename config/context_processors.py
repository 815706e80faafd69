"""Template context from the project itself (the apps' own: clinic/context_processors.py)."""

from config import __version__


def release(request):
    """The release in every page's footer, so a clinic reporting a problem can say which one.
    It lives in the project's layer: clinic may not import `clinic` (it loads the Celery
    app, a layer above; pyproject.toml's contracts)."""
    return {"release": __version__}
