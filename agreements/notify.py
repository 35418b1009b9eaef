"""The one email about agreement activity: neutral, never with rule text, at most one an hour,
and none to a partner who has the agreement open at that moment."""

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.db.models import Q
from django.utils import timezone

from accounts.models import Partner
from intimacy import emails

logger = logging.getLogger("agreements.notify")

# A partner whose page polled within this many seconds has the agreement open (the page polls
# every 5 seconds while it is visible).
PRESENCE_SECONDS = 120
# The presence mark is rewritten at most this often, not on every poll.
_PRESENCE_REFRESH_SECONDS = 30


def _presence_key(user_id: int) -> str:
    return f"agreements:present:{user_id}"


def _local():
    """This worker process's note of the marks it knows to be fresh (the "process" cache, a
    LocMemCache): most polls then need no round trip to the shared cache at all."""
    return caches["process"]


def mark_present(user_id: int) -> None:
    """Called by the page's poll: this user has their agreement open now. Kept in the shared
    cache, so every app server sees it. (A mark is at most twice the refresh interval old while
    the page polls.)"""
    key = _presence_key(user_id)
    if _local().get(key) is not None:
        return
    now = time.time()
    try:
        marked = cache.get(key)
        if marked is None or marked < now - _PRESENCE_REFRESH_SECONDS:
            cache.set(key, now, PRESENCE_SECONDS)
            marked = now
    except Exception:
        # Presence only spares an email; a cache outage must not break the page.
        logger.warning("Could not record presence", exc_info=True)
        return
    _local().set(key, marked, marked + _PRESENCE_REFRESH_SECONDS - now)


def forget_presence(user_id: int) -> None:
    """As if this user's page had been closed for two minutes (on every app server, once this
    worker's own note of it is gone too)."""
    _local().delete(_presence_key(user_id))
    cache.delete(_presence_key(user_id))


def is_present(user_id: int) -> bool:
    try:
        return cache.get(_presence_key(user_id)) is not None
    except Exception:
        return False


def partner_of(actor: Partner) -> None:
    """Tells the actor's partner, once per PARTNER_EMAIL_INTERVAL, that something changed,
    unless they are looking at the agreement right now."""
    if emails.is_muted():
        return
    other = (
        Partner.objects.select_related("user")
        .filter(couple_id=actor.couple_id, left_at__isnull=True, user__isnull=False)
        .exclude(pk=actor.pk)
        .first()
    )
    if other is None or not other.user.partner_update_emails or is_present(other.user_id):
        return
    message = emails.render(
        "partner_update",
        other.user.email,
        {"name": other.user.display_name, "when": timezone.now()},
        time_zone=other.user.time_zone,
        language=other.user.language,
    )

    def claim() -> bool:
        # After the action commits, in the enqueue's own transaction: the throttle is stamped
        # only for an email really queued, and the conditional update lets one app server only
        # decide to send. It also keeps this row lock out of the consent transaction.
        now = timezone.now()
        due = Q(notified_at__isnull=True) | Q(
            notified_at__lte=now - settings.PARTNER_EMAIL_INTERVAL
        )
        return bool(Partner.objects.filter(due, pk=other.pk).update(notified_at=now))

    emails.queue(message, claim=claim)


def review_due(couple_id: int) -> None:
    """The one email a review deserves ("Something in your agreement is ready to look at
    again"): to each current partner who takes these emails, unless their page is open now, and
    within the same hourly limit as every other partner email (`notified_at`, claimed after the
    commit). Never repeated: the caller marks the review told whether or not this sent it."""
    if emails.is_muted():
        return
    seats = Partner.objects.select_related("user").filter(
        couple_id=couple_id, left_at__isnull=True, user__isnull=False
    )
    for seat in seats:
        if not seat.user.partner_update_emails or is_present(seat.user_id):
            continue
        message = emails.render(
            "review_due",
            seat.user.email,
            {"name": seat.user.display_name},
            time_zone=seat.user.time_zone,
            language=seat.user.language,
        )
        emails.queue(message, claim=_claim(seat.pk))


def _claim(seat_id: int):
    def claim() -> bool:
        now = timezone.now()
        due = Q(notified_at__isnull=True) | Q(
            notified_at__lte=now - settings.PARTNER_EMAIL_INTERVAL
        )
        return bool(Partner.objects.filter(due, pk=seat_id).update(notified_at=now))

    return claim
