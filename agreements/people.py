"""A person's own settings, as the agreement pages show them: the one way to change a name.

A name is shown on every page of every agreement the person is part of (a partner's own and
their former couples', and for a therapist every couple that asked them in or that they commented
for), so a new name moves the revision of each of those agreements in the same transaction: an
open page's poll then brings the new name at once, on every server.
"""

from django.db import transaction

from accounts.models import User
from agreements import revision
from intimacy.db import retry_on_conflict


@retry_on_conflict
def save_settings(*, user: User, display_name: str, partner_update_emails: bool) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        renamed = user.display_name != display_name
        user.display_name = display_name
        user.partner_update_emails = partner_update_emails
        user.save(update_fields=["display_name", "partner_update_emails"])
        if renamed:
            revision.move(revision.agreements_showing(user))
    return user
