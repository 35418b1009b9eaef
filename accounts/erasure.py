"""Deleting an account: the person's data goes, the agreements they shared stay with the others.

What goes with the User row (by cascade): the allauth email addresses, MFA authenticators
(TOTP, recovery codes, passkeys), tracked sessions (allauth.usersessions), invitations sent, a
therapist's access records. What stays: partner seats (shown as "former partner"), rule versions,
acceptances, events and comments, whose authors become "former partner" or "former therapist";
a partner's own words in them (notes, comments, check-in answers) are removed first
(intimacy.privacy.remove_words: "removed by its author"), the rules' wording stays.
An agreement nobody can open any more (every seat's person deleted) is deleted with its couple.
"""

from dataclasses import dataclass
from importlib import import_module

from allauth.usersessions.models import UserSession
from django.conf import settings

from accounts import linking
from accounts.models import Couple, Partner, User

# The accounts' steps of deleting an account. intimacy.privacy.delete_account runs them in one
# transaction, with the other apps' steps between them: the agreements' (a therapist's accesses
# end; a couple nobody can open any more is erased) and the check-ins' (what only this person
# could read goes).


def end_partnership_of(*, user: User) -> None:
    """Ends the current partnership, if any (archiving the agreement, the other partner emailed
    neutrally)."""
    if user.current_partner_seat() is not None:
        linking.end_partnership(user=user)


@dataclass(frozen=True)
class Leaving:
    """What must be found before the person's row goes: the couples they had a seat in, and
    every session they have (the current one included)."""

    couple_ids: list[int]
    session_keys: set[str]


def delete_person(*, user: User, current_session_key: str | None = None) -> Leaving:
    """Deletes the person (what goes with the row is in this module's docstring)."""
    couple_ids = list(
        Partner.objects.filter(user=user).values_list("couple_id", flat=True).distinct()
    )
    session_keys = set(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    if current_session_key:
        session_keys.add(current_session_key)
    user.delete()
    return Leaving(couple_ids, session_keys)


def unreachable_couples(couple_ids: list[int]) -> list[Couple]:
    """The couples among these with no person left in any seat: nobody can read them any more."""
    return list(
        Couple.objects.filter(pk__in=couple_ids).exclude(partners__user__isnull=False).distinct()
    )


def end_sessions(session_keys: set[str]) -> None:
    """Signed out everywhere: the keys go from the session store (database and cache)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    for key in session_keys:
        store.delete(key)
