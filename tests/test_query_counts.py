"""Queries per request do not grow with the data: the hot paths of the benchmark (docs/benchmarks.md)
cost the same number of queries for nine rules or two hundred, one client couple or fifty.

Each count is taken after a first request, so that the session has settled (the idle timer is
written at most once a minute) and only the page's own queries are counted."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import now

from accounts.models import User
from agreements import consent, therapy
from agreements.models import Acceptance, Agreement, Rule, RuleVersion
from tests.conftest import client_for, grant, link, make_user, rules_of

# The budgets. The user comes first in every one of them (the session itself is in the cache).
AGREEMENT_PAGE = 10  # user, seat with couple and agreement, rules, live acceptances, rule
# comments, partners, comments on the whole agreement, therapist access requests, the
# therapist's open suggestions, check-ins a therapist invited to
PRINT_PAGE = 4  # user, seat with couple and agreement, rules in force, partners
POLL = 2  # user, the agreement's revision
ACCEPT = 21  # the consent change (with its events and the email throttle) and the updated card
THERAPIST_HOME = 5  # user, second factor, client accesses with their counts, partners, open links


def agreement_of(seat) -> Agreement:
    return Agreement.objects.get(couple_id=seat.couple_id)


def lived_in(seats, therapist: User | None = None) -> None:
    """An agreement in every state a card can show: rules in force, a change waiting, a paused
    rule, a proposal accepted by one, a declined and an archived rule; with a therapist, their
    comments and the partners' replies."""
    alice, bob = seats
    rules = rules_of(alice)
    for rule in rules[:5]:
        for seat in seats:
            consent.accept(partner=seat, rule=rule, version_id=rule.pending_version_id)
    consent.propose_change(partner=alice, rule=rules[0], title="Stop", text="We stop, and talk.")
    consent.withdraw(partner=bob, rule=rules[1])
    consent.accept(partner=alice, rule=rules[5], version_id=rules[5].pending_version_id)
    consent.decline(partner=bob, rule=rules[6], version_id=rules[6].pending_version_id)
    consent.archive(partner=alice, rule=rules[7])
    if therapist is not None:
        grant(seats, therapist)
        agreement = agreement_of(alice)
        for rule in rules[:3]:
            therapy.add_comment(agreement=agreement, rule=rule, therapist=therapist, text="Why?")
            therapy.add_comment(agreement=agreement, rule=rule, partner=bob, text="Because.")
        therapy.add_comment(agreement=agreement, therapist=therapist, text="Overall?")


def more_rules(seats, count: int) -> None:
    """That many more rules of the couple's own, every other one in force and the rest waiting
    for Bob; written in bulk, as consent.py would have left them, to keep the test quick."""
    alice, bob = seats
    agreement = agreement_of(alice)
    start = agreement.rules.count()
    rules = Rule.objects.bulk_create(
        [Rule(agreement=agreement, position=start + n + 1) for n in range(count)]
    )
    versions = RuleVersion.objects.bulk_create(
        [
            RuleVersion(rule=rule, number=1, title=f"Rule {n}", text=f"Wording {n}.", author=alice)
            for n, rule in enumerate(rules)
        ]
    )
    acceptances = []
    for n, (rule, version) in enumerate(zip(rules, versions, strict=True)):
        rule.latest_version = version
        acceptances.append(Acceptance(version=version, partner=alice))
        if n % 2:
            rule.state, rule.current_version, rule.in_force_since = "active", version, now()
            acceptances.append(Acceptance(version=version, partner=bob))
        else:
            rule.pending_version = version
    Rule.objects.bulk_update(
        rules, ["state", "current_version", "pending_version", "latest_version", "in_force_since"]
    )
    Acceptance.objects.bulk_create(acceptances)


def queries(client, path: str, **headers) -> tuple[int, object]:
    client.get(path, headers=headers)  # the session settles
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    return len(captured), response


@pytest.fixture
def dana_2fa(dana) -> User:
    TOTP.activate(dana, generate_totp_secret())
    return dana


def test_the_agreement_page_costs_the_same_queries_for_9_or_200_rules(
    couple, alice_client, dana_2fa
):
    lived_in(couple, dana_2fa)
    nine, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 9
    assert nine <= AGREEMENT_PAGE

    more_rules(couple, 191)
    many, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 200
    assert many == nine


def test_the_printable_page_costs_the_same_queries_for_9_or_200_rules(couple, alice_client):
    lived_in(couple)
    nine, _ = queries(alice_client, reverse("agreements:print"))
    assert nine <= PRINT_PAGE
    more_rules(couple, 191)
    many, response = queries(alice_client, reverse("agreements:print"))
    assert response.status_code == 200
    assert many == nine


def test_an_unchanged_poll_costs_two_queries_however_big_the_agreement(couple, alice_client):
    more_rules(couple, 191)
    etag = alice_client.get(reverse("agreements:agreement"))["ETag"]
    count, response = queries(
        alice_client, reverse("agreements:poll"), if_none_match=etag, hx_request="true"
    )
    assert response.status_code == 304
    assert count <= POLL


def test_accepting_costs_the_same_queries_for_9_or_200_rules(couple, alice_client, bob_client):
    def accept_one() -> int:
        # A proposal Alice accepted and Bob has not: his acceptance brings it into force.
        rule = (
            Rule.objects.filter(
                agreement=agreement_of(couple[0]),
                state=Rule.State.PROPOSED,
                pending_version__acceptances__partner=couple[0],
            )
            .exclude(pending_version__acceptances__partner=couple[1])
            .order_by("position")
            .first()
        )
        path = reverse("agreements:accept", args=[rule.pk])
        bob_client.get(reverse("agreements:agreement"))  # the session settles
        with CaptureQueriesContext(connection) as captured:
            response = bob_client.post(
                path, {"version": rule.pending_version_id}, headers={"hx-request": "true"}
            )
        assert response.status_code == 200
        assert Rule.objects.get(pk=rule.pk).state == Rule.State.ACTIVE
        return len(captured)

    lived_in(couple)
    nine = accept_one()
    assert nine <= ACCEPT
    more_rules(couple, 191)
    assert accept_one() == nine


def test_the_therapist_home_costs_the_same_queries_for_1_or_50_couples(dana_2fa):
    client = client_for(dana_2fa)

    def add_couples(count: int) -> None:
        for n in range(count):
            a = make_user(f"a{n}@example.com", f"A{n}")
            b = make_user(f"b{n}@example.com", f"B{n}")
            seats = link(a, b)
            grant(seats, dana_2fa)
            rule = rules_of(seats[0])[n % 9]
            consent.accept(partner=seats[0], rule=rule, version_id=rule.pending_version_id)

    lived_in(link(make_user("c@example.com", "C"), make_user("d@example.com", "D")), dana_2fa)
    one, response = queries(client, reverse("therapist:home"))
    assert response.content.decode().count('class="card client"') == 1
    assert one <= THERAPIST_HOME

    add_couples(49)
    fifty, response = queries(client, reverse("therapist:home"))
    assert response.content.decode().count('class="card client"') == 50
    assert fifty == one
