"""The personas: alice and bob (a couple), carol and dave (another couple), dana (a therapist with
access to carol and dave's agreement), mallory (signed in, belongs to nothing)."""

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.cache import cache, caches
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client
from django.urls import reverse

from accounts.models import Partner, User
from agreements.models import Agreement

# The test modules take these from here; the stories (agreements/stories.py) own them.
from agreements.stories import (  # noqa: F401
    agreement_of,
    both_accept,
    fresh,
    grant_therapist,
    link,
    rules_of,
)

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


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_refused(user: User, form: dict, *, kept: dict, **headers) -> str:
    """Settings posted with a value the form refuses: answered 422, with what was typed still in
    the form, and nothing saved (the person's fields still hold the `kept` values); the page."""
    response = client_for(user).post(reverse("accounts:settings"), form, **headers)
    assert response.status_code == 422
    page = response.content.decode()
    assert f'value="{form["display_name"]}"' in page
    saved = User.objects.get(pk=user.pk)
    assert {field: getattr(saved, field) for field in kept} == kept
    return page


def reauthenticate(client: Client, user: User) -> None:
    """Confirms the password again through allauth's own form, as a person does before a page
    marked @reauthentication_required (it counts for ACCOUNT_REAUTHENTICATION_TIMEOUT).
    allauth allows 10 of these a minute per user."""
    assert client.session.get("_auth_user_id") == str(user.pk), "client is not signed in as user"
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, f"re-authentication failed: {response.status_code}"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_notes_of_this_worker():
    """Ids come back from test to test: what a worker or the shared cache noted about them (that
    a user polled, notify.py) must not, nor the rate limits (re-authentication allows 10 a minute
    per user), whatever order the tests run in. (The database cache's table is no model's, so a
    transactional test's flush leaves it as it was.)"""
    caches["process"].clear()
    cache.clear()


@pytest.fixture
def no_transaction_lost_a_race(request, caplog):
    """The services take their locks in one order: none of them should ever have to be run again
    after a deadlock (the retry is a net, not the mechanism). The race tests use it
    (tests/concurrency.py RACES)."""
    caplog.set_level("WARNING", logger="intimacy.db")
    yield
    if "run_again" not in request.node.name:
        assert [r.getMessage() for r in caplog.records if r.name == "intimacy.db"] == []


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
def dana_2fa(dana) -> User:
    """Dana with her second factor on, as a therapist must be to see any client data."""
    TOTP.activate(dana, generate_totp_secret())
    return dana


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


def fresh_totp_code(secret: str, *, margin: float = 5) -> str:
    """The authenticator's current code, with at least `margin` seconds of its 30 left: a code
    read at the very end of its window can be refused by the time the server checks it."""
    if 30 - time.time() % 30 < margin:
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """The .mo files are built by the setup (`make test`), never committed: under a plain
    `pytest` build any that is missing or older than its .po, once, before any page is drawn."""
    from pathlib import Path

    from django.conf import settings
    from django.core.management import call_command
    from django.utils import translation

    locale = Path(settings.BASE_DIR) / "locale"
    stale = [
        po
        for po in locale.glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        call_command(
            "compilemessages",
            locale=sorted({po.parts[-3] for po in stale}),
            ignore_patterns=[".venv", "var", "node_modules", "static"],
            verbosity=0,
        )
        translation.trans_real._translations = {}  # the catalogues just built are read afresh
        translation.trans_real._active = translation.trans_real.Local()
