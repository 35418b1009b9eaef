"""Links in every email (ours and allauth's) point at SITE_URL, the address the app is served at;
allauth's emails speak in our neutral voice; `make run PORT=...` serves there and says so."""

import os
import re
import subprocess
from pathlib import Path

import allauth
import pytest
from django.core import mail
from django.urls import reverse

from accounts import linking
from tests.conftest import PASSWORD, client_for, reauthenticate

ROOT = Path(__file__).resolve().parent.parent
ALLAUTH_TEMPLATES = Path(allauth.__path__[0]) / "templates"
SITE = "http://127.0.0.1:8100"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def links(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def test_every_email_allauth_ships_is_overridden_in_our_voice():
    for folder in ("account/email", "mfa/email"):
        shipped = {path.name for path in (ALLAUTH_TEMPLATES / folder).glob("*.txt")}
        ours = {path.name for path in (ROOT / "templates" / folder).glob("*.txt")}
        assert shipped <= ours, f"not overridden in templates/{folder}: {sorted(shipped - ours)}"


def test_the_sign_up_email_links_to_site_url_and_never_says_hello_from_a_host(
    db, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_signup"),
            {
                "email": "newcomer@example.com",
                "password1": "a-long-signup-password-7",
                "display_name": "Newcomer",
                "account_type": "partner",
            },
            HTTP_HOST="localhost:8000",
        )
    [message] = mail.outbox
    assert message.subject == "Rules of the Road: Confirm your email address"
    assert message.body.startswith("Hello,\n")
    assert "Hello from" not in message.body
    assert "localhost" not in message.body and "testserver" not in message.body
    [link] = links(message.body)
    assert link.startswith(f"{SITE}/accounts/confirm-email/")
    assert client.get(link.removeprefix(SITE)).status_code == 200


def test_an_invitation_and_a_password_reset_point_at_the_same_address(
    alice, bob, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        linking.create_invitation(inviter=alice, email="someone@example.com")
        client.post(reverse("account_reset_password"), {"email": "bob@example.com"})
    invitation, reset = mail.outbox
    [invitation_link] = links(invitation.body)
    [reset_link] = links(reset.body)
    assert invitation_link.startswith(f"{SITE}/invitation/")
    assert reset_link.startswith(f"{SITE}/accounts/password/reset/key/")


def test_an_account_notification_is_neutral_and_points_at_the_settings_page(
    alice, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    reauthenticate(client, alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_change_password"),
            {
                "oldpassword": PASSWORD,
                "password1": "another-pass-77",
                "password2": "another-pass-77",
            },
        )
    [message] = [m for m in mail.outbox if "password" in m.subject.lower()]
    assert message.subject == "Rules of the Road: Your password changed"
    assert "Your password was changed." in message.body
    assert links(message.body) == [f"{SITE}{reverse('accounts:settings')}"]
    assert "Hello from" not in message.body


def test_make_run_takes_a_port_and_the_email_links_follow_it(tmp_path):
    """The recipe, with a stand-in for Python that prints what it was asked to run."""
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\necho "ran: $* SITE_URL=$SITE_URL"\n')
    fake_python.chmod(0o755)
    installed = tmp_path / "installed"  # newer than the lock: nothing to install
    installed.touch()
    env = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}

    def run(*arguments: str) -> str:
        return subprocess.run(
            [
                "make",
                "--no-print-directory",
                "run",
                f"PYTHON={fake_python}",
                f"INSTALLED={installed}",
                *arguments,
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    output = run("PORT=8100")
    assert "ran: manage.py runserver 127.0.0.1:8100 SITE_URL=http://127.0.0.1:8100" in output
    assert "http://127.0.0.1:8100/" in output
    assert "ran: manage.py runserver 127.0.0.1:8000 SITE_URL=http://127.0.0.1:8000" in run()
    chosen = run("PORT=8100", "SITE_URL=https://rules.example")
    assert "runserver 127.0.0.1:8100 SITE_URL=https://rules.example" in chosen
