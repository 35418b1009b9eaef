"""The shared cache going away (a closed port): sign-in fails closed, with the styled error page,
nothing of what was typed in the page or the logs, and works again once the cache is back."""

import io
import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.app_servers import AppServers, Browser, free_port
from tests.conftest import PASSWORD

CLOSED = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


@pytest.fixture
def cache_gone(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED}
    }


def test_sign_in_without_the_cache_fails_closed_and_shows_no_stack_trace(
    alice, cache_gone, monkeypatch, settings
):
    stream = io.StringIO()
    monkeypatch.setattr(logging.getHandlerByName("console"), "stream", stream)
    client = Client(raise_request_exception=False)
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "Traceback" not in page and "ConnectionError" not in page and "6379" not in page
    assert PASSWORD not in page and PASSWORD not in stream.getvalue()
    from django.contrib.sessions.models import Session

    assert not client.cookies.get("sessionid") or not client.cookies["sessionid"].value
    assert not [s for s in Session.objects.all() if "_auth_user_id" in s.get_decoded()]


def test_signed_in_pages_without_the_cache_fail_closed(alice_client, cache_gone):
    alice_client.raise_request_exception = False
    response = alice_client.get(reverse("accounts:settings"))
    assert response.status_code == 500
    assert "Your name, as your partner sees it" not in response.content.decode()


def test_a_production_server_whose_cache_goes_away_refuses_sign_in_and_recovers(
    transactional_db, settings
):
    """The server starts with its cache (it would refuse to start without one:
    tests/test_deploy_start.py); then the cache goes away, and comes back."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from tests.redis_server import RedisServer

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = User.objects.create_user("alice@example.com", PASSWORD, display_name="Alice")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    form = {"login": "alice@example.com", "password": PASSWORD}
    redis = RedisServer().start()
    try:
        with AppServers(1, CACHE_URL=redis.url) as (server,):
            redis.stop()
            browser = Browser()
            response = browser.post(server, "/accounts/login/", form)
            assert response.status == 500
            assert "Something went wrong" in response.text and "Traceback" not in response.text
            assert "sessionid" not in browser.cookies
            # The cache is back, on the same address: the same sign-in works.
            redis.start()
            browser = Browser()
            assert browser.post(server, "/accounts/login/", form).status == 302
            assert browser.signed_in(server)
    finally:
        redis.stop()
