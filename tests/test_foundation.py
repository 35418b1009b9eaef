"""The foundation: health check, demo data, the real sign-up / verification / log-in flow, the
base layout."""

import json
import re
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.urls import reverse

from accounts.models import Couple, Invitation, User
from agreements.models import Rule, TherapistAccess


def test_healthz_answers_200_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(client, db):
    with mock.patch("intimacy.views.connection.cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_prints_the_password_on_a_line_of_its_own_and_it_works(client, db, settings):
    settings.DEBUG = True
    output = seed()
    password = re.search(r"^password: (\S+)$", output, re.M).group(1)
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": password}
    )
    assert response.status_code == 302
    assert client.get("/agreement/").status_code == 200


def test_seed_demo_is_idempotent_and_shows_every_state(db, settings):
    settings.DEBUG = True
    seed()
    seed()
    assert User.objects.count() == 8  # the three couples, the therapist, and erin, alone
    assert Couple.objects.count() == 3
    erin = User.objects.get(email="erin@example.com")
    assert erin.rule_drafts.count() == 1 and erin.introduction_dismissed_at is None
    assert Invitation.objects.filter(inviter=erin, status="open").count() == 1
    assert User.objects.get(email="alice@example.com").introduction_dismissed_at is not None
    alice = User.objects.get(email="alice@example.com")
    rules = Rule.objects.filter(agreement__couple=alice.current_partner_seat().couple)
    states = {r.state for r in rules}
    assert {"active", "proposed", "paused", "declined"} <= states
    assert any(r.has_pending_change for r in rules)
    assert not TherapistAccess.objects.filter(
        agreement__couple=alice.current_partner_seat().couple
    ).exists()
    assert (
        TherapistAccess.objects.filter(status="active", therapist__email="dana@example.com").count()
        == 1
    )


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_demo", stdout=StringIO())


def test_sign_up_verify_by_the_emailed_link_and_log_in(
    client, db, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {
                "email": "river@example.org",
                "password1": "a-long-test-password-1",
                "display_name": "River",
                "account_type": "partner",
            },
        )
    assert response.status_code == 302
    assert client.get("/agreement/").status_code == 302  # not signed in before verifying
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    assert client.post(link).status_code == 302
    user = User.objects.get(email="river@example.org")
    assert user.display_name == "River" and not user.is_therapist
    client.post(reverse("account_logout"))
    response = client.post(
        reverse("account_login"),
        {"login": "river@example.org", "password": "a-long-test-password-1"},
    )
    assert response.status_code == 302
    assert "Invite your partner" in client.get("/").content.decode()


def test_log_in_before_verifying_is_not_possible(client, db, mailoutbox):
    client.post(
        reverse("account_signup"),
        {
            "email": "new@example.org",
            "password1": "a-long-test-password-1",
            "display_name": "N",
            "account_type": "partner",
        },
    )
    client.post(reverse("account_logout"))
    client.post(
        reverse("account_login"), {"login": "new@example.org", "password": "a-long-test-password-1"}
    )
    assert client.get("/agreement/").status_code == 302


def test_the_base_layout_loads_htmx_from_static_with_private_settings(client, db):
    html = client.get("/").content.decode()
    assert "/static/vendor/htmx.min.js" in html
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1))
    assert config["historyCacheSize"] == 0
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["selfRequestsOnly"] is True
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html)
    assert " style=" not in html
    assert "<title>Rules of the Road</title>" in html


def test_the_vendored_htmx_is_a_2_0_release():
    from django.conf import settings

    source = (settings.BASE_DIR / "static/vendor/htmx.min.js").read_text()
    assert re.search(r'version:"2\.0\.\d+"', source)
