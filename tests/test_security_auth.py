"""Authentication and sessions: verification, no account enumeration, rate limits, the admin behind
allauth, two-factor (TOTP, recovery codes shown once, WebAuthn), re-authentication before every
sensitive action, session lifetimes, other sessions, and a POST-only logout that clears the page
cache."""

import hashlib
import json
import os
import re
import time
import types

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.usersessions.models import UserSession
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

from accounts.models import User
from agreements.access import has_second_factor
from intimacy import middleware
from tests.conftest import PASSWORD, client_for, make_user, reauthenticate
from tests.security_production import production_values
from tests.security_world import activate_totp

NEW_PASSWORD = "a-brand-new-password-2"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """allauth's counters live in the cache, keyed by IP and user id: start every test clean,
    with allauth's default limits whatever the environment says."""
    if hasattr(settings, "ACCOUNT_RATE_LIMITS"):
        del settings.ACCOUNT_RATE_LIMITS
    cache.clear()
    yield
    cache.clear()


def log_in(email: str, password: str = PASSWORD) -> tuple[Client, object]:
    client = Client()
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return client, response


def signed_in(client: Client) -> bool:
    return client.get(reverse("accounts:settings")).status_code == 200


def totp_code(secret: str, offset: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


# -- sign-up, verification, enumeration ----------------------------------------------------------


def signup(client: Client, email: str):
    return client.post(
        reverse("account_signup"),
        {
            "email": email,
            "password1": "a-long-signup-password-7",
            "display_name": "Newcomer",
            "account_type": "partner",
        },
    )


def test_signing_up_signs_nobody_in_until_the_email_is_verified(
    db, django_capture_on_commit_callbacks
):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = signup(client, "newcomer@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not signed_in(client)
    assert len(mail.outbox) == 1 and "newcomer@example.com" in mail.outbox[0].to
    assert not EmailAddress.objects.get(email="newcomer@example.com").verified

    again, response = log_in("newcomer@example.com", "a-long-signup-password-7")
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not signed_in(again)


def test_sign_up_answers_the_same_whether_or_not_the_email_has_an_account(
    db, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        taken = signup(Client(), "alice@example.com")
        free = signup(Client(), "someone-new@example.com")
    assert taken.status_code == free.status_code == 302
    assert taken["Location"] == free["Location"]
    # The owner of the address hears about it by email; the person signing up learns nothing.
    assert {m.to[0] for m in mail.outbox} == {"alice@example.com", "someone-new@example.com"}


def test_log_in_answers_the_same_whether_or_not_the_account_exists(db, alice):
    _, known = log_in("alice@example.com", "not-the-password-1")
    _, unknown = log_in("nobody@example.com", "not-the-password-1")
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].errors == unknown.context["form"].errors
    assert _page(known, "alice@example.com") == _page(unknown, "nobody@example.com")


def _page(response, email: str) -> str:
    """The page without what differs by design: the email typed, and the CSRF tokens."""
    body = response.content.decode().replace(email, "EMAIL")
    return re.sub(r"[A-Za-z0-9]{32,}", "TOKEN", body)


def test_password_reset_answers_the_same_whether_or_not_the_account_exists(db, alice):
    known = Client().post(reverse("account_reset_password"), {"email": "alice@example.com"})
    unknown = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_production_keeps_allauths_rate_limits_on():
    limits = production_values(
        "__import__('allauth.account', fromlist=['app_settings']).app_settings.RATE_LIMITS"
    )
    for action in ("login", "login_failed", "signup", "reset_password", "reauthenticate"):
        assert limits.get(action), action


def test_repeated_failed_log_ins_lock_the_account_out_for_a_while(db, alice):
    for _ in range(5):
        _, response = log_in("alice@example.com", "wrong-password-123")
        assert response.status_code == 200
    client, response = log_in("alice@example.com")
    assert not signed_in(client)
    assert "Too many failed login attempts" in response.content.decode()


# -- the Django admin ----------------------------------------------------------------------------


def test_the_admin_log_in_goes_through_allauth(db, mallory):
    response = Client().get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    # Its own form is never used, even posted to directly.
    response = Client().post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client_for(mallory).get("/admin/login/").status_code == 403
    assert client_for(mallory).get("/admin/").status_code in (302, 403)
    staff = make_user("staff@example.com", "Staff")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    assert client_for(staff).get("/admin/").status_code == 200


# -- two-factor authentication -------------------------------------------------------------------


def test_every_partner_and_therapist_is_offered_two_factor_on_the_settings_page(alice, dana):
    for user in (alice, dana):
        page = client_for(user).get(reverse("accounts:settings")).content.decode()
        assert reverse("mfa_index") in page


def test_totp_can_be_turned_on_and_its_recovery_codes_are_shown_once(db, alice):
    client = client_for(alice)
    reauthenticate(client, alice)
    activate_totp(client)
    assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()

    codes = (
        Authenticator.objects.get(user=alice, type=Authenticator.Type.RECOVERY_CODES)
        .wrap()
        .get_unused_codes()
    )
    assert len(codes) >= 8
    first = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert all(code in first for code in codes)
    second = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert not any(code in second for code in codes)
    download = client.get(reverse("mfa_download_recovery_codes"))
    assert download.status_code in (403, 404)
    assert not any(code in download.content.decode() for code in codes)


def test_with_totp_on_a_password_alone_does_not_sign_in(db, alice):
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    client, response = log_in("alice@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not signed_in(client)

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and not signed_in(client)
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret, -1)})
    response = (
        response
        if response.status_code == 302
        else client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    )
    assert response.status_code == 302
    assert signed_in(client)


def test_a_recovery_code_signs_in_once_only(db, alice):
    TOTP.activate(alice, generate_totp_secret())
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    code = RecoveryCodes.activate(alice).get_unused_codes()[0]
    client, _ = log_in("alice@example.com")
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert signed_in(client)
    again, _ = log_in("alice@example.com")
    assert again.post(reverse("mfa_authenticate"), {"code": code}).status_code == 200
    assert not signed_in(again)


class SoftKey:
    """A software security key: enough of WebAuthn registration to prove the server side."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)

    def register(self, challenge: bytes, rp_id: str, origin: str) -> dict:
        public_key = ES256.from_cryptography_key(self.key.public_key())
        attested = AttestedCredentialData.create(b"\0" * 16, self.credential_id, public_key)
        flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV | AuthenticatorData.FLAG.AT
        auth_data = AuthenticatorData.create(
            hashlib.sha256(rp_id.encode()).digest(), flags, 0, attested
        )
        attestation = AttestationObject.create("none", auth_data, {})
        client_data = CollectedClientData.create(
            type="webauthn.create", challenge=challenge, origin=origin
        )
        return {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(bytes(client_data)),
                "attestationObject": websafe_encode(bytes(attestation)),
            },
            "clientExtensionResults": {},
        }


def test_a_security_key_can_be_added_and_counts_as_a_second_factor(db, dana):
    client = client_for(dana)
    reauthenticate(client, dana)
    assert not has_second_factor(dana)
    assert client.get(reverse("mfa_add_webauthn")).status_code == 200
    state = client.session["mfa.webauthn.state"]
    credential = SoftKey().register(
        websafe_decode(state["challenge"]), "testserver", "http://testserver"
    )
    response = client.post(
        reverse("mfa_add_webauthn"), {"name": "Key", "credential": json.dumps(credential)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Authenticator.objects.filter(user=dana, type=Authenticator.Type.WEBAUTHN).exists()
    assert has_second_factor(dana)
    assert client.get(reverse("therapist:home")).status_code == 200


def test_passkey_log_in_is_offered_on_the_log_in_page(db, settings):
    assert "webauthn" in settings.MFA_SUPPORTED_TYPES and settings.MFA_PASSKEY_LOGIN_ENABLED
    page = Client().get(reverse("account_login")).content.decode()
    assert "passkey" in page.lower()


# -- re-authentication ---------------------------------------------------------------------------

SENSITIVE = [
    ("GET", "accounts:end_partnership", {}),
    ("POST", "accounts:end_partnership", {}),
    ("GET", "agreements:therapist_access", {}),
    ("POST", "agreements:therapist_access", {"action": "end", "access": "1"}),
    ("GET", "accounts:export", {}),
    ("GET", "accounts:export_json", {}),
    ("GET", "accounts:export_markdown", {}),
    ("GET", "accounts:delete_account", {}),
    ("POST", "accounts:delete_account", {"confirm": "on"}),
    ("POST", "account_email", {"action_add": "", "email": "new-address@example.com"}),
]


@pytest.mark.parametrize(("method", "name", "data"), SENSITIVE, ids=lambda v: str(v))
def test_sensitive_actions_ask_for_the_password_again(couple, alice, method, name, data):
    client = client_for(alice)  # signed in, but not just now
    url = reverse(name)
    response = client.get(url) if method == "GET" else client.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert alice.current_partner_seat() is not None
    assert User.objects.filter(pk=alice.pk).exists()
    assert not EmailAddress.objects.filter(email="new-address@example.com").exists()


def test_re_authentication_lasts_a_few_minutes_only(couple, alice, monkeypatch, settings):
    from allauth.account.internal.flows import reauthentication

    client = client_for(alice)
    reauthenticate(client, alice)
    assert client.get(reverse("accounts:export")).status_code == 200
    later = time.time() + settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 1
    monkeypatch.setattr(reauthentication, "time", types.SimpleNamespace(time=lambda: later))
    response = client.get(reverse("accounts:export"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_changing_the_password_needs_the_current_one(db, alice):
    client = client_for(alice)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "not-it-at-all-1", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# -- sessions -------------------------------------------------------------------------------------


def test_changing_the_password_ends_every_session(db, alice):
    phone, _ = log_in("alice@example.com")
    laptop, _ = log_in("alice@example.com")
    assert signed_in(phone) and signed_in(laptop)
    response = laptop.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not signed_in(laptop)
    assert not signed_in(phone)


def test_default_session_lifetimes_are_8_hours_idle_and_14_days_in_all():
    assert production_values("[settings.SESSION_IDLE_TIMEOUT, settings.SESSION_COOKIE_AGE]") == [
        8 * 60 * 60,
        14 * 24 * 60 * 60,
    ]
    assert production_values(
        "[settings.SESSION_IDLE_TIMEOUT, settings.SESSION_COOKIE_AGE]",
        SESSION_IDLE_SECONDS="600",
        SESSION_MAX_AGE_SECONDS="86400",
    ) == [600, 86400]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(middleware, "time", clock)
    return clock


def test_a_session_ends_after_8_hours_without_a_request(couple, alice, clock, settings):
    client = client_for(alice)
    assert signed_in(client)
    clock.now += settings.SESSION_IDLE_TIMEOUT - 60
    assert signed_in(client)
    clock.now += settings.SESSION_IDLE_TIMEOUT + 1
    response = client.get(reverse("agreements:agreement"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    clock.now += 1
    assert not signed_in(client)


def test_a_session_ends_after_14_days_however_busy(couple, alice, clock, settings):
    client = client_for(alice)
    assert signed_in(client)
    started = clock.now
    while clock.now + 7 * 3600 <= started + settings.SESSION_COOKIE_AGE:
        clock.now += 7 * 3600
        assert signed_in(client), (clock.now - started) / 3600
    clock.now = started + settings.SESSION_COOKIE_AGE + 1
    assert not signed_in(client)


def test_the_lifetimes_are_configurable(couple, alice, clock, settings):
    settings.SESSION_IDLE_TIMEOUT = 120
    client = client_for(alice)
    assert signed_in(client)
    clock.now += 121
    assert not signed_in(client)


def test_people_see_their_other_sessions_and_can_end_them(db, alice):
    phone, _ = log_in("alice@example.com")
    laptop, _ = log_in("alice@example.com")
    assert UserSession.objects.filter(user=alice).count() == 2
    page = laptop.get(reverse("usersessions_list"))
    assert page.status_code == 200
    response = laptop.post(reverse("usersessions_list"))
    assert response.status_code == 302
    assert signed_in(laptop)
    assert not signed_in(phone)
    assert UserSession.objects.filter(user=alice).count() == 1


def test_log_out_is_post_only_and_clears_the_browsers_copy_of_the_pages(db, alice):
    client, _ = log_in("alice@example.com")
    response = client.get(reverse("account_logout"))
    assert response.status_code == 200
    assert signed_in(client)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert '"cache"' in response.headers.get("Clear-Site-Data", "")
    assert response.headers.get("Cache-Control") == "no-store"
    assert not signed_in(client)


def test_a_session_cannot_be_used_after_logging_out(db, alice):
    client, _ = log_in("alice@example.com")
    stolen = client.cookies["sessionid"].value
    client.post(reverse("account_logout"))
    thief = Client()
    thief.cookies["sessionid"] = stolen
    assert not signed_in(thief)


def test_signing_in_changes_the_session_key(db, alice):
    client = Client()
    session = client.session  # a session from before signing in, as a fixation attack plants
    session["planted"] = True
    session.save()
    client.cookies["sessionid"] = session.session_key
    client.post(reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD})
    assert signed_in(client)
    assert client.cookies["sessionid"].value != session.session_key


def test_a_therapist_account_cannot_join_a_couple_through_an_invitation(db, alice, dana):
    from accounts import linking

    invitation = linking.create_invitation(inviter=alice)
    response = client_for(dana).post(
        reverse("accounts:invitation", args=[invitation.token]), {"choice": "accept"}
    )
    assert response.status_code == 409
    assert dana.current_partner_seat() is None
