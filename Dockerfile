# syntax=docker/dockerfile:1
# Rules of the Road: the production image. Serve it behind a TLS-terminating proxy that sets
# X-Forwarded-Proto (see docs/deploy.md).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN useradd --system --create-home --home-dir /home/app --uid 10001 --user-group app

# Dependencies first, so that a change to the code does not reinstall them.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
    && pip install --require-hashes -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

WORKDIR /app
# The code belongs to root: the app user can read it, not change it.
COPY . /app

# The translation catalogues (locale/*.po) are compiled into the image with GNU gettext's msgfmt,
# installed for this one step and removed again. The time zone database (tzdata) stays: each
# person's dates are shown in their own zone (intimacy.W001 warns when it is missing).
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends gettext tzdata >/dev/null \
    && DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=build-only-compilemessages-key-not-used-at-run-time-0123456789 \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    EMAIL_URL=console:// \
    python manage.py compilemessages --verbosity 0 \
    && apt-get purge -y -qq gettext >/dev/null \
    && apt-get autoremove -y -qq >/dev/null \
    && rm -rf /var/lib/apt/lists/*

# Static files are collected once, into the image. The settings refuse to load without a secret
# key and encryption keys, so throwaway values are given to this one command; they are not kept
# in the image and never reach a running container.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=build-only-collectstatic-key-not-used-at-run-time-0123456789 \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    EMAIL_URL=console:// \
    python manage.py collectstatic --noinput --verbosity 0 \
    && chown app:app /app/var

COPY <<'EOF' /usr/local/bin/docker-entrypoint
#!/bin/sh
# With arguments, runs them instead (docker compose run web python manage.py reencrypt).
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
# Several app servers sharing one database set MIGRATE_ON_START=false and migrate once per deploy.
# migrate creates every table the app needs, the database cache's included.
if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    python manage.py migrate --noinput
fi
# Refuses to start, one line per problem, a configuration that would disable security (a
# per-process cache, an email backend that sends nothing outside a try-out) or half-work (a
# database not migrated, a cache or keys it cannot use): intimacy/checks.py. Each app server
# worker checks the last ones again when it loads the app (intimacy/wsgi.py).
python manage.py check --deploy
# granian: measured faster than gunicorn's sync and gthread workers here (docs/benchmarks.md,
# "App servers side by side"). Each worker process runs WEB_THREADS requests at once.
exec granian --interface wsgi --host 0.0.0.0 --port 8000 --no-ws \
    --workers "${WEB_CONCURRENCY:-2}" --blocking-threads "${WEB_THREADS:-4}" \
    intimacy.wsgi:application
EOF
RUN chmod 0755 /usr/local/bin/docker-entrypoint

USER app
EXPOSE 8000

# The health check names the first allowed host, so that Django's host check lets it in.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); host = 'localhost' if host in ('', '*') else host; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': host, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

ENTRYPOINT ["docker-entrypoint"]
