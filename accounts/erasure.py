"""Deleting an account: the person's data goes, the agreements they shared stay with the others.

What goes with the User row (by cascade): the allauth email addresses, MFA authenticators
(TOTP, recovery codes, passkeys), tracked sessions (allauth.usersessions), invitations sent, a
therapist's access records. What stays: partner seats (shown as "former partner"), rule versions,
acceptances, events and comments, whose authors become "former partner" or "former therapist".
An agreement nobody can open any more (every seat's person deleted) is deleted with its couple.
"""

from importlib import import_module

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import transaction

from accounts import linking
from accounts.models import Couple, Partner, User
from agreements import partnership, therapy
from agreements.models import TherapistAccess
from checkins import services as checkins


def delete_account(*, user: User, current_session_key: str | None = None) -> None:
    """Ends the current partnership (archiving the agreement, the other partner emailed
    neutrally), ends a therapist's accesses, then deletes the person and every session they
    have. One transaction: either all of it happens, or nothing."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.current_partner_seat() is not None:
            linking.end_partnership(user=user)
        for access_id in TherapistAccess.objects.filter(
            therapist=user,
            status__in=[TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE],
        ).values_list("pk", flat=True):
            # Recorded in the couple's timeline, by "former therapist" once the row is gone.
            therapy.end_access(access_id=access_id, therapist=user)
        couple_ids = list(
            Partner.objects.filter(user=user).values_list("couple_id", flat=True).distinct()
        )
        session_keys = set(
            UserSession.objects.filter(user=user).values_list("session_key", flat=True)
        )
        if current_session_key:
            session_keys.add(current_session_key)
        checkins.erase_for(user=user)
        user.delete()
        _delete_unreachable(couple_ids)
        _end_sessions(session_keys)


def _delete_unreachable(couple_ids: list[int]) -> None:
    """A couple with no person left in any seat: nobody can read its agreement, so it goes."""
    orphaned = (
        Couple.objects.filter(pk__in=couple_ids).exclude(partners__user__isnull=False).distinct()
    )
    for couple in orphaned:
        partnership.erase_couple_data(couple=couple)


def _end_sessions(session_keys: set[str]) -> None:
    """Signed out everywhere: the keys go from the session store (database and cache)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    for key in session_keys:
        store.delete(key)
