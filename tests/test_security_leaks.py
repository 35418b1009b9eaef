"""Secrets in addresses (invitation tokens, reset keys) stay out of caches and logs, and every
page, error pages included, is sent with the Content-Security-Policy."""

import io
import logging
import subprocess
import sys
import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts import linking
from intimacy.logfilters import redact
from tests.app_servers import ROOT, call, free_port, server_env


@pytest.fixture
def invitation(alice):
    return linking.create_invitation(inviter=alice)


def test_the_signed_out_invitation_page_is_never_stored(invitation):
    response = Client().get(invitation.get_absolute_url())
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_an_unusable_invitation_link_is_never_stored_either(db):
    response = Client().get(reverse("accounts:invitation", args=["not-a-token"]))
    assert response.status_code == 404
    assert "no-store" in response.headers["Cache-Control"]


def test_the_password_reset_page_reached_by_its_key_is_never_stored(db):
    response = Client().get("/accounts/password/reset/key/1-not-a-real-key/")
    assert "no-store" in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    [
        "/invitation/SECRETtoken123/",
        "/accounts/password/reset/key/2b-SECRETkey-123abc/",
        "/accounts/confirm-email/SECRET:key:123/",
    ],
)
def test_token_paths_are_redacted_and_nothing_else_is(path):
    line = f'"GET {path}?next=/x HTTP/1.1" 200 512'
    assert "SECRET" not in redact(line)
    assert "[redacted]" in redact(line)
    assert redact('"GET /agreement/ HTTP/1.1" 200 512') == '"GET /agreement/ HTTP/1.1" 200 512'
    assert redact("/accounts/password/reset/key/done/") == "/accounts/password/reset/key/done/"


@pytest.mark.parametrize("handler", ["console", "django.server", "mail_admins"])
def test_every_configured_log_handler_redacts_tokens(handler):
    assert any(
        type(f).__name__ == "RedactTokens" for f in logging.getHandlerByName(handler).filters
    )


def test_a_server_error_on_an_invitation_link_logs_no_token(invitation, monkeypatch):
    stream = io.StringIO()
    console = logging.getHandlerByName("console")
    monkeypatch.setattr(console, "stream", stream)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("accounts.views.render", broken)
    response = Client(raise_request_exception=False).get(invitation.get_absolute_url())
    assert response.status_code == 500
    logged = stream.getvalue()
    assert "Internal Server Error: /invitation/[redacted]/" in logged
    assert invitation.token not in logged


def test_the_development_servers_access_log_holds_no_invitation_token(transactional_db, alice):
    """`make run`: runserver logs every request at INFO (django.server)."""
    from tests.app_servers import create_cache_table

    create_cache_table()
    token = linking.create_invitation(inviter=alice).token
    port = free_port()
    env = server_env(DJANGO_DEBUG="true")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                call(f"127.0.0.1:{port}", "GET", "/healthz", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        for path in (f"/invitation/{token}/", f"/invitation/{token}x/"):
            assert call(f"127.0.0.1:{port}", "GET", path).status in (200, 404)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert '"GET /invitation/[redacted]/ HTTP/1.1" 200' in output
    assert token not in output


# -- the policy on every page, error pages included ------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_the_not_found_page_is_sent_with_the_content_security_policy(db, settings, debug):
    settings.DEBUG = debug
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_server_error_page_is_sent_with_the_policy(db, monkeypatch):
    monkeypatch.setattr("accounts.views.render", lambda *a, **k: 1 / 0)
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Something went wrong" in response.content.decode()


def test_the_csrf_failure_page_is_sent_with_the_policy(db):
    response = Client(enforce_csrf_checks=True).post(reverse("account_login"), {})
    assert response.status_code == 403
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
