"""Limits on the emails a person can make the app send to an address they type (invitations),
counted in the database: one row per limited key, locked while it is counted, in the caller's
transaction. So a burst of simultaneous requests, on any number of processes and servers, gets
no more past a limit than it allows (each request waits for the row), and a request that is
rolled back takes nothing of it.

allauth's own limits (failed log-ins, password resets, confirmation emails) are kept in the
shared cache under a lock of allauth's (`cache.add`, atomic in Redis and in the database cache).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from intimacy.models import RateLimit

# How many ended windows one call clears away (those no request is using).
_PRUNE = 50


@dataclass(frozen=True)
class Limit:
    key: str
    count: int  # at most this many
    seconds: int  # in a window this long, from the first one


def key(kind: str, value: str) -> str:
    """A key for something a person typed (an email address): an HMAC with SECRET_KEY, so the
    table holds no address and no digest anyone could check an address against."""
    return f"{kind}:{salted_hmac('intimacy.ratelimit', value, algorithm='sha256').hexdigest()}"


def take(*limits: Limit) -> bool:
    """Counts one against every limit, or against none: True when each had room left. The rows
    stay locked until the caller's transaction ends, in key order (after any row the caller
    locked), so two callers never wait for each other in a circle."""
    limits = tuple(sorted(limits, key=lambda limit: limit.key))
    keys = [limit.key for limit in limits]
    with transaction.atomic():
        now = timezone.now()
        rows = _lock(keys, now)
        for limit in limits:
            row = rows[limit.key]
            if row.window_ends_at <= now:
                row.count = 0
                row.window_ends_at = now + timedelta(seconds=limit.seconds)
            if row.count >= limit.count:
                return False
        for row in rows.values():
            row.count += 1
            row.save(update_fields=["count", "window_ends_at"])
        _prune(keys, now)
    return True


def _lock(keys: list[str], now) -> dict[str, RateLimit]:
    """The rows of these keys, created if need be, locked. A row that another call pruned
    between the insert and the lock is inserted again."""
    for _attempt in range(3):
        RateLimit.objects.bulk_create(
            [RateLimit(key=k, count=0, window_ends_at=now) for k in keys], ignore_conflicts=True
        )
        rows = {
            row.key: row
            for row in RateLimit.objects.select_for_update().filter(key__in=keys).order_by("key")
        }
        if len(rows) == len(keys):
            return rows
    raise RuntimeError("rate limit rows vanished three times")


def _prune(keys: list[str], now) -> None:
    """Clears a few windows that ended (skipping rows another request holds)."""
    ended = (
        RateLimit.objects.select_for_update(skip_locked=True)
        .filter(window_ends_at__lt=now)
        .exclude(key__in=keys)
        .values_list("key", flat=True)[:_PRUNE]
    )
    if ended := list(ended):
        RateLimit.objects.filter(key__in=ended).delete()
