"""System checks that refuse a deployment which would half-work: one that would silently switch
security off, or one that would start and then answer 500s because a set-up step was forgotten.

Every `manage.py` command runs them (the image runs `manage.py check` before its app server), and
every app server process runs the STARTUP ones when it loads the app (intimacy/wsgi.py). Each
problem is one line that says what to do. The ones that read the database wait while `migrate`
runs, the step that makes them pass, and `makemigrations`, which reads no database
(intimacy/management/commands/).
"""

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.checks import Error, Info, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import TextField
from django.db.models.functions import Cast

from intimacy.validators import is_time_zone

# What an app server process checks when it loads the app: can this process serve at all?
# (Not Django's "database" tag: Django leaves those out of a plain `manage.py check`.)
STARTUP = "startup"

# Caches that live inside one process: with a second worker, log-out, rate limits, lockouts and
# the two-factor replay guard hold in one process only.
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
# The only hosts a try-out may answer to: this machine.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
GENERATE_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)

_migrating: ContextVar[bool] = ContextVar("migrating", default=False)


@contextlib.contextmanager
def while_migrating() -> Iterator[None]:
    """The checks that read the database wait: `migrate` is about to create what they look for."""
    token = _migrating.set(True)
    try:
        yield
    finally:
        _migrating.reset(token)


def _reason(error: BaseException) -> str:
    """The first line of an error, which is what names the problem (psycopg adds the SQL)."""
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


# Not a STARTUP check: it is about what a configuration would do once a second worker starts, and
# it stops every manage.py command (the image's start included). tests/test_deploy_two_servers.py
# starts such servers on purpose, to show what it prevents.
@register(Tags.caches)
def shared_cache(app_configs, **kwargs) -> list[Error]:
    if settings.DEBUG:
        return []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Error(
            f"The cache ({backend.rsplit('.', 1)[-1]}) lives inside one process, so sessions "
            "ended in one worker stay alive in the others and rate limits, lockouts and the "
            "two-factor replay guard do not hold.",
            hint="Set CACHE_URL to a shared cache: db://cache_table (created by manage.py "
            "migrate) or redis://host:6379/0.",
            id="intimacy.E001",
        )
    ]


@register(Tags.security, STARTUP)
def encryption_keys(app_configs, **kwargs) -> list[Error]:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        return [
            Error(
                f"FIELD_ENCRYPTION_KEYS is empty: set it to a Fernet key ({GENERATE_KEY}).",
                id="intimacy.E002",
            )
        ]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            return [
                Error(
                    f"FIELD_ENCRYPTION_KEYS: key {position} of {len(keys)} is not a Fernet key "
                    f"(32 url-safe base64-encoded bytes); generate one with {GENERATE_KEY}.",
                    id="intimacy.E002",
                )
            ]
    return []


def unapplied_migrations() -> list[str]:
    """The migrations the database lacks, in the order `migrate` would apply them."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


@register(STARTUP)
def database_migrated(app_configs, **kwargs) -> list[Error]:
    if _migrating.get():
        return []
    try:
        missing = unapplied_migrations()
    except DatabaseError as error:
        return [
            Error(
                f"The database cannot be reached ({_reason(error)}): check DATABASE_URL and "
                "that the database server runs.",
                id="intimacy.E003",
            )
        ]
    if not missing:
        return []
    return [
        Error(
            f"The database lacks {len(missing)} migration(s), from {missing[0]} on (its tables, "
            "the email queue's and the cache's included): run `manage.py migrate`.",
            id="intimacy.E003",
        )
    ]


def _database_is_behind() -> bool:
    """True when E003 already names the step (migrate) that fixes what a later check would see."""
    try:
        return bool(unapplied_migrations())
    except DatabaseError:
        return True


@register(Tags.caches, STARTUP)
def cache_usable(app_configs, **kwargs) -> list[Error]:
    if _migrating.get():
        return []
    cache = caches["default"]
    key = f"intimacy:startup-check:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", 30)
        answered = cache.get(key)
        cache.delete(key)
    except Exception as error:  # noqa: BLE001 - whatever the backend raises, it is unusable
        if isinstance(cache, DatabaseCache):
            if _database_is_behind():
                return []  # E003: migrate creates the table
            step = "run `manage.py createcachetable` (CACHE_URL names a table migrate did not make)"
        else:
            step = "check CACHE_URL and that the cache server runs"
        return [
            Error(
                f"The cache cannot be used ({_reason(error)}): {step}.",
                id="intimacy.E004",
            )
        ]
    if answered != "ok":
        return [
            Error(
                "The cache does not keep what is stored in it: check CACHE_URL.",
                id="intimacy.E004",
            )
        ]
    return []


@register(STARTUP)
def email_queue_usable(app_configs, **kwargs) -> list[Error]:
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    from intimacy import emails

    if _migrating.get():
        return []
    if not isinstance(emails.deliver.get_backend(), DatabaseBackend):
        return []
    try:
        DBTaskResult.objects.exists()
    except DatabaseError as error:
        if _database_is_behind():
            return []  # E003
        return [
            Error(
                f"The email queue cannot be read ({_reason(error)}): run `manage.py migrate`.",
                id="intimacy.E005",
            )
        ]
    return []


@register(Tags.security, STARTUP)
def stored_text_readable(app_configs, **kwargs) -> list[Error]:
    """The oldest and the newest stored text of every encrypted field decrypt: a server with other
    keys than the ones that wrote the data (or one dropped before `reencrypt` finished) would
    answer 500 on every page that shows what people wrote."""
    from intimacy import crypto

    if _migrating.get() or encryption_keys(app_configs):
        return []
    for model, names in crypto.encrypted_fields():
        for name in names:
            stored = (
                model._base_manager.exclude(**{f"{name}__isnull": True})
                .exclude(**{name: ""})
                .annotate(raw=Cast(name, output_field=TextField()))
            )
            try:
                samples = [
                    stored.order_by(order).values_list("raw", flat=True).first()
                    for order in ("pk", "-pk")
                ]
            except DatabaseError:
                return []  # not migrated: E003 says so
            for token in samples:
                if not token:
                    continue
                try:
                    crypto.decrypt(token)
                except ValueError:
                    return [
                        Error(
                            "FIELD_ENCRYPTION_KEYS cannot decrypt what is stored "
                            f"({model._meta.label}.{name}): give this server the keys the "
                            "others use, and drop an old key only after `manage.py reencrypt`.",
                            id="intimacy.E006",
                        )
                    ]
    return []


def _host(value: str) -> str:
    return value.strip().lower().lstrip(".")


@register(Tags.security, STARTUP)
def try_out_is_local(app_configs, **kwargs) -> list[Error]:
    """TRY_OUT accepts plain http and emails printed in the log: only on this machine."""
    if not settings.TRY_OUT:
        return []
    site = urlsplit(settings.SITE_URL).hostname or ""
    hosts = sorted({_host(host) for host in [*settings.ALLOWED_HOSTS, site]} - LOCAL_HOSTS)
    if not hosts:
        return []
    return [
        Error(
            f"TRY_OUT is on, but the app answers to {', '.join(hosts)}: a try-out prints emails "
            "(sign-in links included) in the log instead of sending them and serves plain http. "
            "Set EMAIL_URL to your mail server and TRY_OUT=false.",
            id="intimacy.E007",
        )
    ]


@register(Tags.security, deploy=True)
def try_out_says_so(app_configs, **kwargs) -> list[Info]:
    if not settings.TRY_OUT:
        return []
    return [
        Info(
            "This is a try-out on this machine (TRY_OUT=true): plain http and emails in the log "
            f"are accepted ({', '.join(settings.TRY_OUT_ACCEPTS)}) while the app answers to "
            "local host names only (intimacy.E007).",
            id="intimacy.I001",
        )
    ]


def refusals(tags: list[str] | None = None) -> list[str]:
    """The errors of the given checks (all by default), one line each, as `id message`."""
    from django.core.checks import run_checks

    return [
        f"{issue.id} {issue.msg}"
        for issue in run_checks(tags=tags)
        if issue.is_serious() and not issue.is_silenced()
    ]


@register()
def time_zone_database(app_configs, **kwargs) -> list[Warning]:
    """People's time zones (User.time_zone) need the IANA database: the system's
    (/usr/share/zoneinfo, Debian's tzdata) or the tzdata package. Without it every zone is
    refused and everyone reads UTC."""
    if is_time_zone("America/Los_Angeles") and is_time_zone("Europe/Berlin"):
        return []
    return [
        Warning(
            "No time zone database: everyone reads dates and times in UTC.",
            hint="Install the system's tzdata package, or the tzdata package from PyPI.",
            id="intimacy.W001",
        )
    ]
