"""A partner's visits to the agreement page, for "since your last visit": the one state change a
page load makes, and only its own bookkeeping (nothing the other partner can see)."""

from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Partner

# Loads of the page closer together than this are one visit: a reload, a second tab, the way back
# from a rule's history keep what was new at the visit's start.
VISIT_GAP = timedelta(minutes=30)
# How often a long visit moves `seen_at` on (a write at most once a minute, not on every load).
SEEN_EVERY = timedelta(minutes=1)


def record_visit(seat: Partner) -> datetime | None:
    """The moment of this seat's previous visit (None on a first one). Starts a new visit when the
    last look is older than VISIT_GAP, with one conditional UPDATE; otherwise at most one small
    write a minute. Reads only the seat's own columns, already loaded with it."""
    now = timezone.now()
    seen = seat.seen_at
    if seen is None or seen <= now - VISIT_GAP:
        Partner.objects.filter(pk=seat.pk).filter(
            Q(seen_at__isnull=True) | Q(seen_at__lte=now - VISIT_GAP)
        ).update(previous_visit_at=F("seen_at"), seen_at=now)
        seat.previous_visit_at, seat.seen_at = seen, now
    elif seen <= now - SEEN_EVERY:
        Partner.objects.filter(pk=seat.pk).update(seen_at=now)
        seat.seen_at = now
    return seat.previous_visit_at
