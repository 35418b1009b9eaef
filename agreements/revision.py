"""The one function that moves an agreement's revision.

`Agreement.revision` is what readers of a partner's page key on: the poll's ETag
(`Agreement.etag`) is made of it, so an open page fetches its live region again only when it
moved. Every service that changes what someone sees on an agreement's pages calls `move` in its
own transaction: an event (consent.record_event), and a new name (people's pages show names).
A sealed answer moves only its author's `Partner.sealed_revision` (`move_sealed`): the open
page's ETag is made of both (`Agreement.make_etag`).
A therapist's visit does not move it: nothing on the partners' live region changed.
"""

from collections.abc import Iterable

from django.db.models import F, Q

from accounts.models import Partner
from agreements.models import Agreement


def move(agreement_ids: Iterable[int]) -> None:
    """The next revision of each of these agreements, in the caller's transaction."""
    Agreement.objects.filter(pk__in=list(agreement_ids)).update(revision=F("revision") + 1)


def move_sealed(seat_id: int) -> None:
    """A sealed answer changed what this partner's own pages show, and nobody else's: their
    next poll answers with the new live region, the other partner's still answers 304."""
    Partner.objects.filter(pk=seat_id).update(sealed_revision=F("sealed_revision") + 1)


def agreements_showing(user) -> list[int]:
    """The agreements whose pages show this person's name: those of every couple they were a
    partner in, and those a therapist was asked into, has or had access to, or commented on."""
    return list(
        Agreement.objects.filter(
            Q(couple__partners__user=user)
            | Q(therapist_accesses__therapist=user)
            | Q(comments__therapist=user)
        )
        .distinct()
        .values_list("pk", flat=True)
    )
