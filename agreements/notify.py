"""The one email about agreement activity: neutral, never with rule text, at most one an hour."""

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Partner
from intimacy import emails


def partner_of(actor: Partner) -> None:
    """Tells the actor's partner, once per PARTNER_EMAIL_INTERVAL, that something changed."""
    other = (
        Partner.objects.select_related("user")
        .filter(couple_id=actor.couple_id, left_at__isnull=True, user__isnull=False)
        .exclude(pk=actor.pk)
        .first()
    )
    if other is None or not other.user.partner_update_emails:
        return
    now = timezone.now()
    due = Q(notified_at__isnull=True) | Q(notified_at__lte=now - settings.PARTNER_EMAIL_INTERVAL)
    # A conditional update, so that two app servers cannot both decide to send.
    if Partner.objects.filter(due, pk=other.pk).update(notified_at=now):
        emails.send("partner_update", other.user.email, {"name": other.user.display_name})
