"""gunicorn's configuration for production: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Every value can be set in the environment (docs/deploy-settings.md). Access and error lines go to
stdout in the application's own format (config/observability.py; JSON lines with LOG_FORMAT=json),
each access line with the request's id and its path WITHOUT the query string: a line of the
access log never carries a search term or anything else a URL's query might hold.
"""

import multiprocessing
import os
import sys
from pathlib import Path

# The project's root, so config.observability imports whatever directory gunicorn starts in.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.observability import ACCESS_LOG_FORMAT, formatter_config  # noqa: E402

# Behind the TLS proxy on the same host; GUNICORN_BIND=0.0.0.0:8000 (or a unix: socket) when the
# proxy runs elsewhere. Several addresses are separated by commas.
bind = [item.strip() for item in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")]
# Sync workers: 2 x cores + 1 (gunicorn's advice), at most 12 (each holds a database connection).
workers = int(os.environ.get("GUNICORN_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 12))
# gunicorn's default 30 s: a request that long is a fault to log, not a page to wait for.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (systemd stop, a deploy) requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# X-Forwarded-Proto/For are believed only from the proxy (Django's SECURE_PROXY_SSL_HEADER
# relies on it): the proxy's address, loopback by default.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# A worker is replaced after this many requests (with jitter), so a slow leak never grows.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))

# Logging: the handlers below are the only ones (accesslog None: no second, plain handler).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
accesslog = None
errorlog = "-"
access_log_format = ACCESS_LOG_FORMAT
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.ContextFilter"}},
    "formatters": {"clinic": formatter_config(LOG_FORMAT)},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "clinic",
            "filters": ["context"],
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["console"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
