#!/bin/sh
# manage.py with the production environment (docs/deploy.md), for the commands an operator
# runs by hand: migrate, collectstatic, compilemessages, create_clinic, check --deploy.
#
#   runuser -u ipledge -- /opt/ipledge-clinic/deploy/manage.sh migrate
#
# It runs as whoever calls it: migrate and create_clinic as the service user (the database
# role's owner), collectstatic and compilemessages as root (they write into the code's folder,
# which the service user may only read). IPLEDGE_ENV names another environment file.
set -eu
env_file="${IPLEDGE_ENV:-/etc/ipledge-clinic/env}"
app="$(cd "$(dirname "$0")/.." && pwd)"
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
cd "$app"
exec "$app/.venv/bin/python" manage.py "$@"
