"""Races on therapist access, with real concurrent connections: a link is used exactly once, and
a therapist cancelling a link never loses to a partner agreeing at the same moment."""

import pytest

from agreements import therapy
from agreements.models import ClientLink, TherapistAccess
from tests.concurrency import run_together
from tests.conftest import link, make_user

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 6
Status = TherapistAccess.Status


def test_two_couples_asking_with_one_link_at_once_use_it_once():
    dana = make_user("dana@example.com", "Dana", therapist=True)
    first = link(make_user("a@example.com", "A"), make_user("b@example.com", "B"))
    second = link(make_user("c@example.com", "C"), make_user("d@example.com", "D"))
    for _ in range(ROUNDS):
        _, token = therapy.create_client_link(therapist=dana)
        results = run_together(
            lambda: therapy.ask_partner(partner=first[0], token=token, scope="rules"),
            lambda: therapy.ask_partner(partner=second[0], token=token, scope="rules"),
        )
        made = [r for r in results if isinstance(r, TherapistAccess)]
        assert len(made) == 1, results
        assert [type(r) for r in results if not isinstance(r, TherapistAccess)] == [
            therapy.LinkNotFound
        ]
        for access_ in made:
            therapy.decline(partner=access_.requested_by, access_id=access_.pk)


def test_a_partner_agreeing_while_the_therapist_cancels_never_starts_a_cancelled_access():
    dana = make_user("dana@example.com", "Dana", therapist=True)
    alice, bob = link(make_user("a@example.com", "A"), make_user("b@example.com", "B"))
    for _ in range(ROUNDS):
        client_link, token = therapy.create_client_link(therapist=dana)
        asked = therapy.ask_partner(partner=alice, token=token, scope="history")
        run_together(
            lambda: therapy.agree(partner=bob, access_id=asked.pk),
            lambda: therapy.cancel_client_link(therapist=dana, link_id=client_link.pk),
        )
        asked.refresh_from_db()
        cancelled = ClientLink.objects.get(pk=client_link.pk).cancelled_at is not None
        assert (asked.status, cancelled) in [(Status.ACTIVE, False), (Status.ENDED, True)]
        if asked.status == Status.ACTIVE:
            therapy.end_access(partner=alice, access_id=asked.pk)
