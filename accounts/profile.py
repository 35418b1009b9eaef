"""What a person says about themselves when they sign up: the one way it is written."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from intimacy.validators import is_time_zone


def complete_sign_up(
    *,
    user: User,
    display_name: str,
    is_therapist: bool,
    practice_name: str,
    time_zone: str = "",
    language: str = "",
) -> User:
    """The name shown to a partner, the kind of account and the browser's time zone, for an
    account allauth just made (it has no couple and no agreement yet, so no page shows it
    anywhere). A zone the browser did not give, or one this server does not know, is UTC: it
    can be changed in Settings."""
    with transaction.atomic():
        user.display_name = display_name.strip()
        user.is_therapist = is_therapist
        user.practice_name = practice_name.strip() if is_therapist else ""
        user.time_zone = time_zone if is_time_zone(time_zone) else "UTC"
        # A language this site does not speak is the browser's wish (blank).
        user.language = language if language in dict(settings.LANGUAGES) else ""
        user.save(
            update_fields=["display_name", "is_therapist", "practice_name", "time_zone", "language"]
        )
    return user


def dismiss_introduction(*, user: User) -> None:
    """The agreement page's explanation of answering is hidden for good, for this person."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk, introduction_dismissed_at__isnull=True).update(
            introduction_dismissed_at=timezone.now()
        )
