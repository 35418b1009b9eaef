"""Queries per request do not grow with the data: the hot paths of the benchmark (docs/benchmarks.md)
cost the same number of queries for ten rules or two hundred, one client couple or fifty.

Each count is taken after a first request, so that the session has settled (the idle timer is
written at most once a minute) and only the page's own queries are counted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from agreements import consent
from agreements.models import Rule
from agreements.pages import memo
from agreements.stories import agreement_in_every_state, rules_of_their_own, therapist_review
from checkins import services
from checkins.models import CheckIn
from tests.conftest import agreement_of, client_for, grant_therapist, link, make_user, rules_of

# The budgets. The user comes first in every one of them (the session itself is in the cache),
# read in one statement with the person's current seat, couple, agreement and both partners
# (accounts/backends.py).
SIGNED_IN_FLOOR = 1  # the user (with the seat, the couple, the agreement and the partners)
AGREEMENT_PAGE = 2  # the user with all that, and a check-in waiting for this partner (read
# for every page: the clock alone can close it); the rules, the comments, the therapist access
# notes and what a therapist offered (pages/memo.py) come from the worker's memory once read
AGREEMENT_PAGE_COLD = 10  # the first read of a revision in a worker adds: rules with their
# versions, live acceptances, rule comments, what was said to the waiting wordings, comments on
# the whole agreement, the therapist access notes, a therapist's open suggestions, check-ins a
# therapist invited to (and "since your last visit" only on a visit's first load)
PRINT_PAGE = 1  # the user with all that; the rules come from the worker's memory
PRINT_PAGE_COLD = 2  # the first read of a revision adds the rules with their wording
POLL = 1  # the user with all that: the agreement's revision is in it
ACCEPT = 21  # the consent change (the couple, agreement and rule locked in that order, its
# events and the email throttle) and the updated card (a new revision: the agreement, rules,
# acceptances, comments, answer rounds; the partners as the request read them with the user)
WITHDRAW = 19  # the same for a withdrawal (one event, the acceptances ended)
THERAPIST_HOME = 3  # the user (with whether they have a second factor), live accesses with
# their partners' names and the agreements' revisions, open links; each couple's section comes
# from the worker's memory
THERAPIST_HOME_COLD = 4  # and the counts of the sections this worker does not hold, in one query
# The check-in screens read everything afresh for each request (checkins/pages.py): the same
# queries on the first request and every other.
CHECKIN_LIST = 8  # the user; the partner's current seat with the couple and agreement; the
# couple's partners; the check-ins, their answers, their named rules with the wordings; the rules
# a new one may name; the check-ins a therapist invited to (and rule 1 when a revealed check-in
# asks for care)
CHECKIN = 5  # the user; the check-in with its couple, agreement and who started it, found only
# in a couple the person has a seat in; the couple's partners; its answers; its named rules


def lived_in(seats, therapist: User | None = None) -> None:
    """An agreement in every state a card can show; with a therapist, their comments on three
    rules and the partners' replies."""
    rules = list(agreement_in_every_state(*seats).values())
    if therapist is not None:
        therapist_review(seats, therapist, rules[:3])


def queries(client, path: str, cold: bool = False, **headers) -> tuple[int, object]:
    """The queries of a second request (the session settled); `cold`: with the worker's memory
    of agreements emptied first, as for the first request after a change."""
    for _ in range(2):  # the session settles, and a therapist's visit begins (a new revision)
        client.get(path, headers=headers)
    if cold:
        memo.page_rows.clear()
        memo.live_html.clear()
        memo.agreement_pages.clear()
        memo.print_pages.clear()
        memo.client_sections.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    return len(captured), response


def test_the_signed_in_floor_costs_one_query_the_user(alice_client, settings):
    settings.ROOT_URLCONF = "tests.floor_urls"
    count, response = queries(alice_client, "/bench/floor/signed-in")
    assert response.status_code == 200
    assert count == SIGNED_IN_FLOOR


# Pages are kept only when read outside a transaction (pages/memo.py): these requests commit.
@pytest.mark.django_db(transaction=True)
def test_the_agreement_page_costs_the_same_queries_for_10_or_200_rules(
    couple, alice_client, dana_2fa
):
    lived_in(couple, dana_2fa)
    ten, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 10
    assert ten == AGREEMENT_PAGE

    cold, _ = queries(alice_client, reverse("agreements:agreement"), cold=True)
    assert cold == AGREEMENT_PAGE_COLD

    rules_of_their_own(*couple, 190)
    many, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 200
    assert many == ten
    assert queries(alice_client, reverse("agreements:agreement"), cold=True)[0] == cold


@pytest.mark.django_db(transaction=True)
def test_the_therapists_couple_page_costs_the_same_queries_for_10_or_200_rules(couple, dana_2fa):
    lived_in(couple, dana_2fa)
    client = client_for(dana_2fa)
    path = reverse("therapist:couple", args=[agreement_of(couple[0]).pk])
    ten, _ = queries(client, path)
    cold, _ = queries(client, path, cold=True)
    rules_of_their_own(*couple, 190)
    many, response = queries(client, path)
    assert response.content.decode().count('class="rule-card ') == 200
    assert many == ten
    assert queries(client, path, cold=True)[0] == cold


def test_a_changed_poll_costs_the_same_queries_for_10_or_200_rules(couple, alice_client):
    lived_in(couple)
    poll = reverse("agreements:poll")
    ten, response = queries(alice_client, poll, cold=True, if_none_match='"old"', hx_request="true")
    assert response.status_code == 200
    rules_of_their_own(*couple, 190)
    many, _ = queries(alice_client, poll, cold=True, if_none_match='"old"', hx_request="true")
    assert many == ten


@pytest.mark.django_db(transaction=True)
def test_the_printable_page_costs_the_same_queries_for_10_or_200_rules(couple, alice_client):
    lived_in(couple)
    ten, _ = queries(alice_client, reverse("agreements:print"))
    assert ten == PRINT_PAGE
    assert queries(alice_client, reverse("agreements:print"), cold=True)[0] == PRINT_PAGE_COLD
    rules_of_their_own(*couple, 190)
    many, response = queries(alice_client, reverse("agreements:print"))
    assert response.status_code == 200
    in_force = Rule.objects.filter(agreement=agreement_of(couple[0]), state=Rule.State.ACTIVE)
    assert response.content.decode().count('class="print-rule"') == in_force.count() > 90
    assert many == ten
    assert queries(alice_client, reverse("agreements:print"), cold=True)[0] == PRINT_PAGE_COLD


def test_an_unchanged_poll_costs_one_query_however_big_the_agreement(couple, alice_client):
    rules_of_their_own(*couple, 190)
    etag = alice_client.get(reverse("agreements:agreement"))["ETag"]
    count, response = queries(
        alice_client, reverse("agreements:poll"), if_none_match=etag, hx_request="true"
    )
    assert response.status_code == 304
    assert count == POLL


def test_accepting_costs_the_same_queries_for_10_or_200_rules(couple, alice_client, bob_client):
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
    ten = accept_one()
    assert ten == ACCEPT
    rules_of_their_own(*couple, 190)
    assert accept_one() == ten


def test_withdrawing_costs_the_same_queries_for_10_or_200_rules(couple, alice_client):
    def withdraw_one() -> int:
        rule = Rule.objects.filter(
            agreement=agreement_of(couple[0]), state=Rule.State.ACTIVE
        ).first()
        alice_client.get(reverse("agreements:agreement"))  # the session settles
        with CaptureQueriesContext(connection) as captured:
            response = alice_client.post(
                reverse("agreements:withdraw", args=[rule.pk]),
                {"note": ""},
                headers={"hx-request": "true"},
            )
        assert response.status_code == 200
        assert Rule.objects.get(pk=rule.pk).state == Rule.State.PAUSED
        return len(captured)

    lived_in(couple)
    ten = withdraw_one()
    assert ten == WITHDRAW
    rules_of_their_own(*couple, 190)
    assert withdraw_one() == ten


@pytest.mark.django_db(transaction=True)
def test_the_therapist_home_costs_the_same_queries_for_1_or_50_couples(dana_2fa):
    client = client_for(dana_2fa)

    def add_couples(count: int) -> None:
        for n in range(count):
            a = make_user(f"a{n}@example.com", f"A{n}")
            b = make_user(f"b{n}@example.com", f"B{n}")
            seats = link(a, b)
            grant_therapist(seats, dana_2fa)
            rule = rules_of(seats[0])[n % 9]
            consent.accept(partner=seats[0], rule=rule, version_id=rule.pending_version_id)

    lived_in(link(make_user("c@example.com", "C"), make_user("d@example.com", "D")), dana_2fa)
    one, response = queries(client, reverse("therapist:home"))
    assert response.content.decode().count('class="card client"') == 1
    assert one == THERAPIST_HOME
    cold, _ = queries(client, reverse("therapist:home"), cold=True)
    assert cold == THERAPIST_HOME_COLD

    add_couples(49)
    fifty, response = queries(client, reverse("therapist:home"))
    assert response.content.decode().count('class="card client"') == 50
    assert fifty == one
    cold_fifty, _ = queries(client, reverse("therapist:home"), cold=True)
    assert cold_fifty == cold


def revealed_checkins(seats, count: int) -> list:
    """That many check-ins, each sealed by both partners (so revealed), with a reply."""
    a, b = seats
    for n in range(count):
        checkin, _ = services.start(partner=(a, b)[n % 2], topic=f"Evening {n}")
        for seat in (a, b):
            services.seal(partner=seat, checkin=checkin, emotion="Close.", want="More.", overall=4)
        services.add_reply(partner=b, checkin=checkin, text="Thank you.")
    return list(CheckIn.objects.filter(couple_id=a.couple_id, revealed_at__isnull=False))


def test_the_check_in_list_costs_the_same_queries_for_3_or_30_check_ins(couple, alice_client):
    revealed_checkins(couple, 3)
    three, response = queries(alice_client, reverse("checkins:list"))
    assert response.status_code == 200
    assert three == CHECKIN_LIST
    revealed_checkins(couple, 27)
    thirty, response = queries(alice_client, reverse("checkins:list"))
    assert response.status_code == 200
    assert response.content.decode().count("status-revealed") == 30
    assert thirty == three


def test_a_revealed_check_in_costs_the_same_queries_however_many_the_couple_has(
    couple, alice_client
):
    first = revealed_checkins(couple, 3)[-1]
    path = reverse("checkins:checkin", args=[first.pk])
    few, response = queries(alice_client, path)
    assert response.status_code == 200
    assert few == CHECKIN
    revealed_checkins(couple, 27)
    many, response = queries(alice_client, path)
    assert response.status_code == 200
    assert many == few


def test_an_open_check_ins_poll_costs_the_check_ins_queries(couple, alice_client):
    checkin, _ = services.start(partner=couple[0])
    services.seal(partner=couple[0], checkin=checkin, want="More.")
    path = reverse("checkins:poll", args=[checkin.pk])
    etag = alice_client.get(path, headers={"hx-request": "true"})["ETag"]
    count, response = queries(alice_client, path, hx_request="true", if_none_match=etag)
    assert response.status_code == 304
    assert count == CHECKIN
