"""The personas: alice and bob (a couple), carol and dave (another couple), dana (a therapist with
access to carol and dave's agreement), mallory (signed in, belongs to nothing)."""

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client
from django.urls import reverse

from accounts import linking
from accounts.models import Partner, User
from agreements import consent, therapy
from agreements.models import Agreement, Rule, TherapistAccess

PASSWORD = "a-long-test-password-1"


@receiver(connection_created)
def _throwaway_sqlite(sender, connection, **kwargs):
    """The test database is thrown away: no need to wait for the disk on every commit."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")


def make_user(email: str, name: str, *, therapist: bool = False) -> User:
    user = User.objects.create_user(email, PASSWORD, display_name=name, is_therapist=therapist)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def link(a: User, b: User) -> tuple[Partner, Partner]:
    invitation = linking.create_invitation(inviter=a)
    couple = linking.accept_invitation(token=invitation.token, user=b)
    return couple.partners.get(user=a), couple.partners.get(user=b)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reauthenticate(client: Client, user: User) -> None:
    """Confirms the password again through allauth's own form, as a person does before a page
    marked @reauthentication_required (it counts for ACCOUNT_REAUTHENTICATION_TIMEOUT).
    allauth allows 10 of these a minute per user."""
    assert client.session.get("_auth_user_id") == str(user.pk), "client is not signed in as user"
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, f"re-authentication failed: {response.status_code}"


def fresh(rule: Rule) -> Rule:
    """The rule as the database has it now."""
    return Rule.objects.select_related("pending_version", "current_version").get(pk=rule.pk)


def both_accept(rule: Rule, a: Partner, b: Partner) -> Rule:
    """Both partners accept the wording waiting on the rule; the rule as it is afterwards."""
    for seat in (a, b):
        consent.accept(partner=seat, rule=rule, version_id=fresh(rule).pending_version_id)
    return fresh(rule)


def grant(seats, therapist: User, scope: str = "history") -> TherapistAccess:
    """The only way access starts: the therapist's client link, one partner asks, the other
    agrees (at "the rules and our history" unless told otherwise)."""
    first, second = seats
    _, token = therapy.create_client_link(therapist=therapist)
    asked = therapy.ask_partner(partner=first, token=token, scope=scope)
    return therapy.agree(partner=second, access_id=asked.pk)


@pytest.fixture
def fresh_cache():
    """Rate limits (re-authentication allows 10 a minute per user) start afresh in each test."""
    cache.clear()


def rules_of(seat: Partner) -> list[Rule]:
    return list(Rule.objects.filter(agreement__couple_id=seat.couple_id).order_by("position"))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db) -> User:
    return make_user("alice@example.com", "Alice")


@pytest.fixture
def bob(db) -> User:
    return make_user("bob@example.com", "Bob")


@pytest.fixture
def carol(db) -> User:
    return make_user("carol@example.com", "Carol")


@pytest.fixture
def dave(db) -> User:
    return make_user("dave@example.com", "Dave")


@pytest.fixture
def dana(db) -> User:
    return make_user("dana@example.com", "Dana", therapist=True)


@pytest.fixture
def mallory(db) -> User:
    return make_user("mallory@example.com", "Mallory")


@pytest.fixture
def couple(alice, bob) -> tuple[Partner, Partner]:
    """Alice's and Bob's seats."""
    return link(alice, bob)


@pytest.fixture
def other_couple(carol, dave) -> tuple[Partner, Partner]:
    return link(carol, dave)


@pytest.fixture
def agreement(couple) -> Agreement:
    return Agreement.objects.get(couple_id=couple[0].couple_id)


@pytest.fixture
def alice_client(alice) -> Client:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return client_for(bob)
