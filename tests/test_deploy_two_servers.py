"""Two real app servers (gunicorn, production settings) sharing one database and one cache, as
every deployment with more than one worker does: what one worker ends or counts, every worker
knows at the very next request."""

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

from accounts.models import User
from tests.app_servers import AppServers, Browser, create_cache_table
from tests.conftest import PASSWORD, make_user

LOCKED_OUT = "Too many failed login attempts"


@pytest.fixture(scope="module")
def shared_servers(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        create_cache_table()
    with AppServers(2) as servers:
        yield servers


@pytest.fixture
def servers(shared_servers, transactional_db, settings):
    # A real hasher: the servers do not know the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    create_cache_table()  # empties it: no rate limit carries over from another test
    return shared_servers


@pytest.fixture
def alice(servers) -> User:
    return make_user("alice@example.com", "Alice")


def sign_in(browser: Browser, server: str, email: str = "alice@example.com") -> None:
    response = browser.post(server, "/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status == 302, response.status
    assert browser.signed_in(server)


def test_a_session_logged_out_on_one_server_is_refused_by_the_other_at_once(servers, alice):
    a, b = servers
    person = Browser()
    sign_in(person, a)
    assert person.signed_in(b)  # B has read (and cached) the session too
    stolen = dict(person.cookies)
    assert person.post(a, "/accounts/logout/").status == 302
    thief = Browser()
    thief.cookies = stolen
    assert not thief.signed_in(b)
    assert not thief.signed_in(a)


def test_log_out_all_other_devices_ends_them_on_every_server(servers, alice):
    a, b = servers
    phone, laptop = Browser(), Browser()
    sign_in(phone, b)
    sign_in(laptop, a)
    assert phone.signed_in(a) and phone.signed_in(b)
    assert laptop.post(a, "/accounts/sessions/").status == 302
    assert not phone.signed_in(b)
    assert not phone.signed_in(a)
    assert laptop.signed_in(b)


def test_deleting_the_account_ends_its_sessions_on_every_server(servers, alice):
    a, b = servers
    phone, laptop = Browser(), Browser()
    sign_in(phone, a)
    sign_in(laptop, a)
    assert phone.signed_in(b)
    assert laptop.post(a, "/accounts/reauthenticate/", {"password": PASSWORD}).status == 302
    assert laptop.post(a, "/settings/delete/", {"confirm": "on"}).status == 200
    assert not User.objects.filter(email="alice@example.com").exists()
    assert not phone.signed_in(b)


def test_failed_log_ins_count_across_servers_and_lock_the_account_out(servers, alice):
    a, b = servers
    attacker = Browser()
    refused_at = None
    for attempt in range(1, 11):
        server = a if attempt % 2 else b
        response = attacker.post(
            server, "/accounts/login/", {"login": "alice@example.com", "password": "wrong-guess"}
        )
        assert response.status in (200, 429)
        if response.status == 429 or LOCKED_OUT in response.text:
            refused_at = attempt
            break
    # allauth allows 5 failed attempts per account in 5 minutes, whichever worker gets them.
    assert refused_at == 6
    # The right password is refused too while the lockout lasts, on both servers.
    for server in (a, b):
        response = Browser().post(
            server, "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}
        )
        assert response.status in (200, 429) and "sessionid" not in response.set_cookies


def fresh_totp_code(secret: str) -> str:
    """A code with at least 10 seconds of its 30 left, so that it is still valid when replayed."""
    if 30 - time.time() % 30 < 10:
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_a_totp_code_used_on_one_server_cannot_be_replayed_on_the_other(servers, alice):
    a, b = servers
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    code = fresh_totp_code(secret)

    first = Browser()
    response = first.post(
        a, "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}
    )
    assert response.status == 302 and "/2fa/authenticate" in response.location
    assert first.post(a, "/accounts/2fa/authenticate/", {"code": code}).status == 302
    assert first.signed_in(a)

    replay = Browser()
    replay.post(b, "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    response = replay.post(b, "/accounts/2fa/authenticate/", {"code": code})
    assert response.status == 200  # the form again, with its error
    assert not replay.signed_in(b)
    assert not replay.signed_in(a)


def test_with_a_per_process_cache_the_same_checks_fail(servers, alice):
    """Why production refuses locmem:// (intimacy.E001): the two servers above, each with its own
    cache, keep a logged-out session alive and take a replayed code."""
    with AppServers(2, CACHE_URL="locmem://") as (a, b):
        person = Browser()
        sign_in(person, a)
        assert person.signed_in(b)
        stolen = dict(person.cookies)
        person.post(a, "/accounts/logout/")
        thief = Browser()
        thief.cookies = stolen
        assert thief.signed_in(b)  # the ended session lives on in B's own cache

        secret = generate_totp_secret()
        TOTP.activate(alice, secret)
        code = fresh_totp_code(secret)
        first, replay = Browser(), Browser()
        first.post(a, "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
        assert first.post(a, "/accounts/2fa/authenticate/", {"code": code}).status == 302
        replay.post(b, "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
        assert replay.post(b, "/accounts/2fa/authenticate/", {"code": code}).status == 302
