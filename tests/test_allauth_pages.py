"""Every django-allauth page a person can reach renders inside our own layout (the quick exit,
our stylesheets, a neutral title) and carries no inline script the Content-Security-Policy
would block: allauth's JavaScript comes from static files, its data as application/json."""

import re

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD, client_for, reauthenticate

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def assert_our_page(response, title: str | None = None) -> str:
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    assert 'id="quick-exit"' in html, "not rendered in our base layout"
    assert "css/app.css" in html and "css/forms.css" in html
    page_title = re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1).strip()
    assert page_title.endswith("Rules of the Road"), page_title
    if title is not None:
        assert page_title == f"{title} · Rules of the Road"
    for attributes in SCRIPT_TAG.findall(html):
        assert "src=" in attributes or 'type="application/json"' in attributes, (
            f"inline executable script: <script{attributes}>"
        )
    assert not re.search(r"\sstyle=", html), "inline style attribute"
    assert "<style" not in html
    return html


def with_two_factor(user: User) -> User:
    TOTP.activate(user, generate_totp_secret())
    RecoveryCodes.activate(user)
    return user


@pytest.mark.parametrize(
    ("url_name", "title"),
    [
        ("account_signup", "Sign up"),
        ("account_login", "Log in"),
        ("account_reset_password", "Reset your password"),
        ("account_reset_password_done", "Check your email"),
        ("account_reset_password_from_key_done", "Password changed"),
        ("account_email_verification_sent", "Check your email"),
        ("account_inactive", None),
    ],
)
def test_signed_out_pages_use_our_layout(db, url_name, title):
    assert_our_page(Client().get(reverse(url_name)), title)


def test_sign_up_shows_each_field_with_a_label(db):
    html = assert_our_page(Client().get(reverse("account_signup")))
    for field in ["display_name", "email", "password1", "practice_name"]:
        assert f'<label for="id_{field}">' in html
    assert "<legend>I am signing up as</legend>" in html


def test_sign_up_errors_are_tied_to_their_fields(db):
    response = Client().post(reverse("account_signup"), {"account_type": "partner"})
    html = assert_our_page(response)
    assert 'role="alert"' in html
    email_input = re.search(r'<input[^>]*name="email"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in email_input
    assert 'aria-describedby="id_email_error"' in email_input
    assert 'id="id_email_error"' in html


def test_a_failed_log_in_is_explained_on_our_page(alice):
    response = Client().post(
        reverse("account_login"), {"login": "alice@example.com", "password": "not-it"}
    )
    html = assert_our_page(response, "Log in")
    assert "form-errors" in html


def test_password_reset_links_use_our_layout(alice):
    client = Client()
    bad = client.get(
        reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "nope"})
    )
    assert "This link no longer works" in assert_our_page(bad)
    key = default_token_generator.make_token(alice)
    url = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(alice), "key": key},
    )
    html = assert_our_page(client.get(url, follow=True), "Choose a new password")
    assert '<label for="id_password1">New password</label>' in html


def test_email_confirmation_links_use_our_layout(alice):
    address = EmailAddress.objects.create(user=alice, email="alice.new@example.com")
    key = EmailConfirmationHMAC(address).key
    client = Client()
    html = assert_our_page(client.get(reverse("account_confirm_email", args=[key])))
    assert "alice.new@example.com" in html
    expired = client.get(reverse("account_confirm_email", args=["not-a-key"]))
    assert "This link no longer works" in assert_our_page(expired)


@pytest.mark.parametrize(
    ("url_name", "title"),
    [
        ("account_logout", "Log out"),
        ("account_change_password", "Change your password"),
        ("account_email", "Email address"),
        ("account_reauthenticate", "Confirm it's you"),
        ("account_request_reauthentication_code", "Confirm it's you"),
        ("mfa_index", "Two-factor authentication"),
        ("usersessions_list", "Your sessions"),
    ],
)
def test_signed_in_pages_use_our_layout(alice, url_name, title):
    assert_our_page(client_for(alice).get(reverse(url_name)), title)


@pytest.mark.parametrize(
    ("url_name", "title"),
    [
        ("mfa_activate_totp", "Set up an authenticator app"),
        ("mfa_list_webauthn", "Security keys"),
        ("mfa_add_webauthn", "Add a security key"),
    ],
)
def test_setting_up_two_factor_uses_our_layout(alice, url_name, title):
    client = client_for(alice)
    reauthenticate(client, alice)
    assert_our_page(client.get(reverse(url_name)), title)


def test_security_key_pages_load_allauth_javascript_from_static_files(alice):
    client = client_for(alice)
    reauthenticate(client, alice)
    html = assert_our_page(client.get(reverse("mfa_add_webauthn")))
    assert 'src="/static/mfa/js/webauthn.js"' in html
    assert '<script id="js_data" type="application/json">' in html
    login = assert_our_page(Client().get(reverse("account_login")))
    assert 'data-allauth-onload="allauth.webauthn.forms.loginForm" type="application/json"' in login


@pytest.mark.parametrize(
    ("url_name", "title"),
    [
        ("mfa_index", "Two-factor authentication"),
        ("mfa_deactivate_totp", "Turn off the authenticator app"),
        ("mfa_view_recovery_codes", "Recovery codes"),
        ("mfa_generate_recovery_codes", "New recovery codes"),
        ("mfa_reauthenticate", "Confirm it's you"),
    ],
)
def test_managing_two_factor_uses_our_layout(bob, url_name, title):
    with_two_factor(bob)
    client = client_for(bob)
    reauthenticate(client, bob)
    assert_our_page(client.get(reverse(url_name)), title)


def test_the_second_step_at_log_in_uses_our_layout(bob):
    with_two_factor(bob)
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "bob@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    html = assert_our_page(client.get(reverse("mfa_authenticate")), "Log in")
    assert '<label for="id_code">Code</label>' in html
