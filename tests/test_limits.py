"""The limits on emails people can make the app send (intimacy.ratelimit): counted in the
database, in the caller's transaction. tests/test_limits_burst.py fires bursts at them."""

import hashlib
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts import linking
from intimacy import ratelimit
from intimacy.models import RateLimit

pytestmark = pytest.mark.django_db

THREE_A_DAY = ratelimit.Limit("test:address", 3, 24 * 60 * 60)
FIVE_AN_HOUR = ratelimit.Limit("test:account", 5, 60 * 60)


def test_a_limit_lets_its_count_through_and_refuses_the_next():
    assert [ratelimit.take(THREE_A_DAY) for _ in range(4)] == [True, True, True, False]


def test_a_new_window_opens_once_the_last_one_ended():
    for _ in range(3):
        ratelimit.take(THREE_A_DAY)
    RateLimit.objects.update(window_ends_at=timezone.now() - timedelta(seconds=1))
    assert ratelimit.take(THREE_A_DAY)
    row = RateLimit.objects.get(key=THREE_A_DAY.key)
    assert row.count == 1
    assert row.window_ends_at > timezone.now() + timedelta(hours=23)


def test_both_limits_or_neither_a_refusal_by_one_takes_nothing_from_the_other():
    for _ in range(3):
        assert ratelimit.take(THREE_A_DAY, FIVE_AN_HOUR)
    assert not ratelimit.take(THREE_A_DAY, FIVE_AN_HOUR)
    assert RateLimit.objects.get(key=FIVE_AN_HOUR.key).count == 3
    assert ratelimit.take(FIVE_AN_HOUR)


def test_a_rolled_back_action_gives_its_count_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert ratelimit.take(THREE_A_DAY)
        raise RuntimeError("the invitation failed after it was counted")
    assert [ratelimit.take(THREE_A_DAY) for _ in range(4)] == [True, True, True, False]


def test_the_table_holds_no_address_and_nothing_to_check_one_against(alice):
    linking.create_invitation(inviter=alice, email="Partner@Example.org")
    keys = " ".join(RateLimit.objects.values_list("key", flat=True))
    assert f"invitation-email:account:{alice.pk}" in keys
    assert "partner" not in keys.lower()
    assert hashlib.sha256(b"partner@example.org").hexdigest() not in keys


def test_an_address_is_limited_whatever_its_case_and_spaces(alice, bob, carol, dave):
    for inviter, spelled in zip(
        (alice, bob, carol), ("x@example.org", " X@Example.org", "x@EXAMPLE.ORG "), strict=True
    ):
        linking.create_invitation(inviter=inviter, email=spelled)
    with pytest.raises(linking.LinkingError):
        linking.create_invitation(inviter=dave, email="x@example.org")


def test_windows_that_ended_are_cleared_away():
    stale = [
        RateLimit(key=f"test:old:{n}", count=1, window_ends_at=timezone.now() - timedelta(days=1))
        for n in range(10)
    ]
    RateLimit.objects.bulk_create(stale)
    ratelimit.take(THREE_A_DAY)
    assert list(RateLimit.objects.values_list("key", flat=True)) == [THREE_A_DAY.key]
