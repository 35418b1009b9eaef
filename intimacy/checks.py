"""System checks that refuse a deployment whose defaults would silently switch security off."""

from django.conf import settings
from django.core.checks import Error, register

# Caches that live inside one process: with a second worker, log-out, rate limits, lockouts and
# the two-factor replay guard hold in one process only.
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register()
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
            hint="Set CACHE_URL to a shared cache: db://cache_table (then run "
            "manage.py createcachetable) or redis://host:6379/0.",
            id="intimacy.E001",
        )
    ]
