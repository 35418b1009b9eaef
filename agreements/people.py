"""A person's own settings, as the agreement pages show them: the one way to change a name.

A name is shown on every page of every agreement the person is part of (a partner's own and
their former couples', and for a therapist every couple that asked them in or that they commented
for), so a new name moves the revision of each of those agreements in the same transaction: an
open page's poll then brings the new name at once, on every server.
"""

from django.db import transaction

from accounts.models import Partner, User
from agreements import revision
from intimacy.db import retry_on_conflict
from intimacy.validators import validate_time_zone


@retry_on_conflict
def save_settings(
    *,
    user: User,
    display_name: str,
    partner_update_emails: bool,
    time_zone: str | None = None,
    language: str | None = None,
) -> User:
    """`time_zone` None: unchanged. A new zone changes every time this person reads, and nobody
    else's: it moves only their own seats' revision (their open page's next poll brings the
    times in the new zone; the other partner's still answers 304)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        renamed = user.display_name != display_name
        moved = time_zone is not None and user.time_zone != time_zone
        user.display_name = display_name
        user.partner_update_emails = partner_update_emails
        if time_zone is not None:
            validate_time_zone(time_zone)
            user.time_zone = time_zone
        if language is not None:
            # Like a zone, a language is this person's only: their own pages are redrawn in it.
            # A language this site does not speak is refused (ValidationError), as a zone is.
            language = User._meta.get_field("language").clean(language, user)
            moved = moved or user.language != language
            user.language = language
        user.save(update_fields=["display_name", "partner_update_emails", "time_zone", "language"])
        if renamed:
            revision.move(revision.agreements_showing(user))
        if moved:
            for seat_id in Partner.objects.filter(user=user).values_list("pk", flat=True):
                revision.move_sealed(seat_id)
    return user


def set_language(*, user: User, language: str) -> User:
    """This person's language ("" for the browser's), the rest of their settings unchanged."""
    return save_settings(
        user=user,
        display_name=user.display_name,
        partner_update_emails=user.partner_update_emails,
        language=language,
    )
