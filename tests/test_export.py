"""Data export: each partner downloads everything held about them and their agreements (JSON, and
Markdown for people), read back here and compared with the database; a therapist gets their own
account only."""

import json
import re
from datetime import UTC, datetime

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db.models import Q
from django.test import Client
from django.urls import reverse

from accounts import linking
from accounts.models import Partner, User
from agreements import consent, therapy
from agreements.models import Acceptance, Agreement, Comment, Event, Rule, RuleVersion
from intimacy import privacy
from tests.conftest import (
    PASSWORD,
    both_accept,
    client_for,
    fresh,
    grant_therapist,
    link,
    reauthenticate,
    rules_of,
)

JSON_URL = "/settings/export/data.json"
MARKDOWN_URL = "/settings/export/agreement.md"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


@pytest.fixture
def history(alice, bob, carol, dave, dana) -> dict:
    """Alice was with Dave once (ended), and is now with Bob: rules in every state, notes, a
    therapist with access who commented, and a partner's reply. Carol and Dave's agreement exists
    too, and must not be in Alice's export."""
    old_alice, old_dave = link(alice, dave)
    both_accept(rules_of(old_alice)[0], old_alice, old_dave)
    linking.end_partnership(user=dave)
    link(carol, dave)

    a, b = link(alice, bob)
    rules = rules_of(a)
    both_accept(rules[0], a, b)
    both_accept(rules[1], a, b)
    consent.propose_change(
        partner=b, rule=rules[1], title="Kinder words", text="Gentler wording.", note="Softer?"
    )
    consent.not_yet(
        partner=a, rule=rules[1], version_id=fresh(rules[1]).pending_version_id, note="Let me think"
    )
    both_accept(rules[2], a, b)
    consent.withdraw(partner=a, rule=rules[2], note="Not right now")
    consent.decline(partner=b, rule=rules[3], version_id=fresh(rules[3]).pending_version_id)
    consent.archive(partner=a, rule=rules[4])
    agreement = Agreement.objects.get(couple_id=a.couple_id)
    consent.propose_rule(partner=a, agreement=agreement, title="Tea after", text="We make tea.")
    grant_therapist((a, b), dana)
    therapy.add_comment(agreement=agreement, rule=rules[0], therapist=dana, text="Lovely start.")
    therapy.add_comment(agreement=agreement, partner=a, text="Thank you, we are trying.")
    return {"seat": a, "agreement": agreement, "old_seat": old_alice}


def download(client: Client, user: User, url: str):
    reauthenticate(client, user)
    response = client.get(url)
    assert response.status_code == 200
    return response


def walk(value, key=""):
    """Every (key, value) pair in a JSON document, however deep."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_export_downloads_are_attachments_never_cached(history, alice, alice_client):
    for url, kind, extension in (
        (JSON_URL, "application/json", ".json"),
        (MARKDOWN_URL, "text/markdown", ".md"),
    ):
        response = download(alice_client, alice, url)
        assert response["Content-Type"].startswith(kind)
        assert re.match(
            rf'attachment; filename="rules-of-the-road-\d{{4}}-\d\d-\d\d{re.escape(extension)}"',
            response["Content-Disposition"],
        )
        assert response["Cache-Control"] == "no-store"


def test_the_json_read_back_holds_everything_in_the_database(history, alice):
    # Signed in through allauth's form, so that the session is one allauth keeps track of.
    alice_client = Client(HTTP_USER_AGENT="Firefox on a laptop")
    response = alice_client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    TOTP.activate(alice, generate_totp_secret())
    data = json.loads(download(alice_client, alice, JSON_URL).content)

    assert data["account"]["email"] == "alice@example.com"
    assert data["account"]["display_name"] == "Alice"
    assert data["account"]["email_addresses"] == [
        {"email": "alice@example.com", "verified": True, "primary": True}
    ]
    assert [a["type"] for a in data["account"]["mfa_authenticators"]] == ["totp"]
    assert [s["user_agent"] for s in data["account"]["sessions"]] == ["Firefox on a laptop"]

    seats = Partner.objects.filter(user=alice).order_by("couple__created_at")
    assert [c["id"] for c in data["couples"]] == [s.couple_id for s in seats]
    for couple, seat in zip(data["couples"], seats, strict=True):
        assert couple["your_seat_id"] == seat.pk
        assert couple["ended_at"] == iso(seat.couple.ended_at)
        assert {p["seat_id"]: p["name"] for p in couple["partners"]} == {
            p.pk: p.name for p in seat.couple.partners.all()
        }
        exported = couple["agreement"]
        agreement = Agreement.objects.get(couple_id=seat.couple_id)
        assert exported["id"] == agreement.pk
        assert exported["archived"] == agreement.is_archived

        rules = {r["id"]: r for r in exported["rules"]}
        assert list(rules) == list(
            agreement.rules.order_by("position", "pk").values_list("pk", flat=True)
        )
        for rule in agreement.rules.all():
            got = rules[rule.pk]
            assert (got["position"], got["state"]) == (rule.position, rule.state)
            assert got["in_force_since"] == iso(rule.in_force_since)
            assert got["current_version_id"] == rule.current_version_id
            assert got["pending_version_id"] == rule.pending_version_id
            assert got["latest_version_id"] == rule.latest_version_id
            versions = {v["id"]: v for v in got["versions"]}
            assert set(versions) == set(rule.versions.values_list("pk", flat=True))
            for version in rule.versions.all():
                v = versions[version.pk]
                assert (v["number"], v["title"], v["text"]) == (
                    version.number,
                    version.title,
                    version.text,
                )
                assert v["previous_id"] == version.previous_id
                assert v["author_seat_id"] == version.author_id
                assert v["created_at"] == iso(version.created_at)
                acceptances = {a["id"]: a for a in v["acceptances"]}
                # Everything but the other partner's sealed answers.
                readable = version.acceptances.filter(Q(sealed=False) | Q(partner=seat))
                assert set(acceptances) == set(readable.values_list("pk", flat=True))
                for acceptance in readable:
                    a = acceptances[acceptance.pk]
                    assert a["seat_id"] == acceptance.partner_id
                    assert a["created_at"] == iso(acceptance.created_at)
                    assert a["withdrawn_at"] == iso(acceptance.withdrawn_at)

        events = {e["id"]: e for e in exported["events"]}
        readable = agreement.events.visible_to(seat.pk)
        assert list(events) == list(
            readable.order_by("created_at", "pk").values_list("pk", flat=True)
        )
        for event in readable:
            e = events[event.pk]
            assert (e["kind"], e["rule_id"], e["version_id"], e["seat_id"]) == (
                event.kind,
                event.rule_id,
                event.version_id,
                event.partner_id,
            )
            assert e["note"] == event.note
            assert e["created_at"] == iso(event.created_at)

        comments = {c["id"]: c for c in exported["comments"]}
        assert set(comments) == set(agreement.comments.values_list("pk", flat=True))
        for comment in agreement.comments.all():
            c = comments[comment.pk]
            assert (c["text"], c["rule_id"], c["by"]) == (
                comment.text,
                comment.rule_id,
                comment.author_name,
            )
            assert c["created_at"] == iso(comment.created_at)

        assert {a["id"] for a in exported["therapist_accesses"]} == set(
            agreement.therapist_accesses.values_list("pk", flat=True)
        )

    # Nothing missing, counted across the whole export.
    alice_agreements = Agreement.objects.filter(couple__partners__user=alice)
    exported = [c["agreement"] for c in data["couples"]]
    assert (
        sum(len(a["rules"]) for a in exported)
        == Rule.objects.filter(agreement__in=alice_agreements).count()
    )
    assert (
        sum(len(r["versions"]) for a in exported for r in a["rules"])
        == RuleVersion.objects.filter(rule__agreement__in=alice_agreements).count()
    )
    # Everything but the other partner's sealed answers (in force, they are unsealed).
    alices = Q(partner__user=alice)
    assert (
        sum(len(v["acceptances"]) for a in exported for r in a["rules"] for v in r["versions"])
        == Acceptance.objects.filter(version__rule__agreement__in=alice_agreements)
        .filter(Q(sealed=False) | alices)
        .count()
    )
    assert (
        sum(len(a["events"]) for a in exported)
        == Event.objects.filter(agreement__in=alice_agreements)
        .filter(Q(private_to__isnull=True) | Q(private_to__user=alice))
        .count()
    )
    assert (
        sum(len(a["comments"]) for a in exported)
        == Comment.objects.filter(agreement__in=alice_agreements).count()
    )


def test_every_time_in_the_export_is_iso_8601_utc(history, alice, alice_client):
    data = json.loads(download(alice_client, alice, JSON_URL).content)
    times = [
        (key, value)
        for key, value in walk(data)
        if key.endswith(("_at", "_since")) or key in ("date_joined", "last_login")
    ]
    assert len(times) > 50
    for key, value in times:
        assert value is None or ISO_UTC.match(value), f"{key}: {value!r}"
        if value is not None:
            assert datetime.fromisoformat(value).utcoffset().total_seconds() == 0


def test_the_export_holds_no_one_elses_data_and_no_secrets(history, alice, alice_client):
    TOTP.activate(alice, generate_totp_secret())
    body = download(alice_client, alice, JSON_URL).content.decode()
    data = json.loads(body)
    carol_and_dave = Agreement.objects.get(
        couple__partners__user=User.objects.get(email="carol@example.com"),
        couple__ended_at__isnull=True,
    )
    assert carol_and_dave.pk not in [c["agreement"]["id"] for c in data["couples"]]
    assert "bob@example.com" not in body and "dave@example.com" not in body
    assert "gAAAAA" not in body  # no Fernet token: texts are decrypted
    assert "secret" not in body.lower()  # the TOTP secret stays out
    assert "password" not in body.lower()


def test_the_markdown_reads_as_the_agreement(history, alice, alice_client):
    text = download(alice_client, alice, MARKDOWN_URL).content.decode()
    seat = history["seat"]
    assert "Agreement between Alice and Bob (current)" in text
    assert "Agreement between Alice and Dave (archived on" in text
    in_force = [r for r in rules_of(seat) if r.state == Rule.State.ACTIVE]
    current = text[text.index("Agreement between Alice and Bob") :]
    section = current[current.index("### Rules in force") : current.index("### Every rule")]
    positions = [section.index(r.current_version.title) for r in in_force]
    assert positions == sorted(positions)
    for rule in in_force:
        # The number the app shows the rule with, not its place in this list.
        assert f"- **{rule.position}. {rule.current_version.title}**" in section
        assert rule.current_version.text[:40] in section
    for version in RuleVersion.objects.filter(rule__agreement=history["agreement"]):
        assert version.text.splitlines()[0][:60] in text
    assert "Lovely start." in text and "Thank you, we are trying." in text
    assert "Let me think" in text
    assert "- Email: alice@example.com" in text


def test_exporting_needs_a_fresh_password(history, alice_client):
    for url in ("/settings/export/", JSON_URL, MARKDOWN_URL):
        response = alice_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_a_visitor_is_sent_to_log_in(db):
    for url in ("/settings/export/", JSON_URL, MARKDOWN_URL):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_the_export_page_offers_both_downloads_and_is_linked_from_settings(alice, alice_client):
    assert 'href="/settings/export/"' in alice_client.get("/settings/").content.decode()
    reauthenticate(alice_client, alice)
    html = alice_client.get("/settings/export/").content.decode()
    assert f'href="{JSON_URL}"' in html and f'href="{MARKDOWN_URL}"' in html


def test_a_therapist_downloads_their_own_account_not_the_couples_data(history, dana):
    client = client_for(dana)
    body = download(client, dana, JSON_URL).content.decode()
    data = json.loads(body)
    assert data["account"]["email"] == "dana@example.com"
    assert data["account"]["is_therapist"] is True
    assert "couples" not in data
    assert [a["agreement_id"] for a in data["therapist_accesses"]] == [history["agreement"].pk]
    markdown = download(client, dana, MARKDOWN_URL).content.decode()
    for text in (body, markdown):
        assert "Lovely start." not in text  # a comment lives in the couple's agreement
        assert "Alice" not in text and "Bob" not in text
        for version in RuleVersion.objects.filter(rule__agreement=history["agreement"]):
            assert version.text not in text


def test_someone_with_no_couple_gets_their_account_only(mallory):
    client = client_for(mallory)
    data = json.loads(download(client, mallory, JSON_URL).content)
    assert data["couples"] == []
    assert EmailAddress.objects.filter(user=mallory).count() == len(
        data["account"]["email_addresses"]
    )
    markdown = download(client, mallory, MARKDOWN_URL).content.decode()
    assert "no agreement" in markdown


def test_the_other_partners_sealed_answer_is_absent_from_both_exports(couple, alice, bob):
    """Bob accepted rule 1 with a note, then changed his answer to not yet: while Alice has not
    answered, neither is in her export, nor ever the answer he changed."""
    a, b = couple
    rule = rules_of(a)[0]
    consent.accept(partner=b, rule=rule, version_id=rule.pending_version_id, note="Gladly, love")
    consent.not_yet(partner=b, rule=rule, version_id=rule.pending_version_id, note="Until Sunday")

    def bobs_answers(data: dict) -> list[str]:
        agreement = data["couples"][0]["agreement"]
        events = [e["kind"] for e in agreement["events"] if e["seat_id"] == b.pk]
        accepted = [
            acceptance
            for r in agreement["rules"]
            for v in r["versions"]
            for acceptance in v["acceptances"]
            if acceptance["seat_id"] == b.pk
        ]
        return events + ["acceptance"] * len(accepted)

    hers = privacy.export_data(alice)
    text = json.dumps(hers) + privacy.export_markdown(alice)
    assert "Gladly, love" not in text and "Until Sunday" not in text
    assert bobs_answers(hers) == []
    his = json.dumps(privacy.export_data(bob))
    assert "Gladly, love" in his and "Until Sunday" in his
    consent.accept(partner=a, rule=rule, version_id=rule.pending_version_id)  # both answered
    hers = privacy.export_data(alice)
    text = json.dumps(hers) + privacy.export_markdown(alice)
    assert "Until Sunday" in text and "Gladly, love" not in text  # his changed answer stays his
    assert bobs_answers(hers) == ["not_yet"]
