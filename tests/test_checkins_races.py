"""Check-in races with real concurrent connections (threads), on PostgreSQL: both partners
sealing at the same moment reveal the check-in exactly once; two starts make one open check-in;
a seal racing a let-go either reveals or lets go, never both."""

import pytest

from agreements.models import Event
from checkins import services
from checkins.models import CheckIn
from tests.concurrency import run_together
from tests.conftest import link, make_user

ROUNDS = 12

# Meant for PostgreSQL, where the row locks are real; on SQLite (one writer at a time) they run
# too, as tests/test_races.py does.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seats():
    return link(make_user("a@example.com", "A"), make_user("b@example.com", "B"))


def test_both_sealing_at_the_same_moment_reveal_exactly_once(seats):
    alice, bob = seats
    for n in range(ROUNDS):
        checkin, _ = services.start(partner=alice if n % 2 else bob)
        results = run_together(
            lambda c=checkin: services.seal(partner=alice, checkin=c, want=f"A{n}"),
            lambda c=checkin: services.seal(partner=bob, checkin=c, want=f"B{n}"),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        checkin.refresh_from_db()
        assert checkin.is_revealed
        assert checkin.answers.filter(sealed_at__isnull=False).count() == 2
    assert Event.objects.filter(kind=Event.Kind.CHECKIN_REVEALED).count() == ROUNDS


def test_two_starts_at_once_make_one_open_check_in(seats):
    alice, bob = seats
    for _ in range(ROUNDS):
        results = run_together(
            lambda: services.start(partner=alice, topic="a"),
            lambda: services.start(partner=bob, topic="b"),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        (first, made_first), (second, made_second) = results
        assert first.pk == second.pk and [made_first, made_second].count(True) == 1
        services.let_go(partner=alice, checkin=first)
    assert CheckIn.objects.count() == ROUNDS


def test_a_seal_racing_a_let_go_reveals_or_lets_go_never_both(seats):
    alice, bob = seats
    for n in range(ROUNDS):
        checkin, _ = services.start(partner=alice)
        services.seal(partner=alice, checkin=checkin, want=f"A{n}")
        results = run_together(
            lambda c=checkin: services.seal(partner=bob, checkin=c, want=f"B{n}"),
            lambda c=checkin: services.let_go(partner=alice, checkin=c),
        )
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, services.CheckInError), (
                results
            )
        checkin.refresh_from_db()
        assert checkin.is_revealed != checkin.is_closed
        revealed = Event.objects.filter(kind=Event.Kind.CHECKIN_REVEALED).count()
        assert revealed == CheckIn.objects.filter(revealed_at__isnull=False).count()
