import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")

# gunicorn stops (instead of starting the worker again and again) when a worker exits with this
# code while booting; granian stops whenever a worker exits at start.
WORKER_BOOT_ERROR = 3


def refuse(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    sys.exit(WORKER_BOOT_ERROR)


try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:  # a setting is missing or wrong: it names the variable
    refuse([str(error)])

# Every app server process refuses to serve when it could only answer 500s: a database that is
# not migrated, a cache it cannot use, keys that cannot read what is stored (intimacy.checks).
from intimacy.checks import STARTUP, refusals  # noqa: E402 - needs the apps loaded above

if problems := refusals([STARTUP]):
    refuse(problems)
