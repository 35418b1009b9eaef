"""Queries per request do not grow with the data: the hot paths of the benchmark (docs/benchmarks.md)
cost the same number of queries for ten rules or two hundred, one client couple or fifty.

Each count is taken after a first request, so that the session has settled (the idle timer is
written at most once a minute) and only the page's own queries are counted."""

from datetime import timedelta

from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from agreements import consent
from agreements.access import Viewer, current_seat
from agreements.models import Rule
from agreements.pages import agreement as pages
from agreements.stories import (
    agreement_in_every_state,
    as_of,
    both_accept,
    rules_of_their_own,
    therapist_review,
)
from checkins import services
from checkins.models import CheckIn
from tests.conftest import agreement_of, client_for, grant_therapist, link, make_user, rules_of

# The budgets, counted as production runs them: nothing is kept between requests, every page is
# read afresh. The session is in the cache; the user is read by Django's own backend.
SIGNED_IN_FLOOR = 1  # the user
AGREEMENT_PAGE = 10  # the user; the seat with its couple, agreement and partners; the rules,
# then every wording they point at; every comment (on a rule or on the whole agreement); who
# answered the waiting wordings (events, acceptances); whether there are therapist access notes
# or offers (a therapist's open suggestions, check-in invitations), and the access notes (this
# couple has a therapist, no offers); the visit's "since your last visit"; a check-in waiting
THERAPIST_COUPLE_PAGE = 14  # the user, a second factor, the access with the couple and partners,
# the page's own reads as a partner's, the therapist's news count, suggestions, exercises, notes
PRINT_PAGE = 3  # the user, the seat with its couple, agreement and partners, the rules with
# their wording
POLL = 2  # the user, and the agreement's revision
# An action in the test's transaction adds a savepoint and its release (2 of these).
ACCEPT = 28  # the user, the seat with the partners, the rule; the consent change (couple, agreement
# and rule locked in that order, the live acceptances, the acceptance, the accepted wording's
# review interval (it comes into force with its review date), who answered the wording
# so far (events, acceptances), unsealing the other's answer and acceptance, two events each
# moving the revision, the rule, the email throttle); the answer (ANSWER)
WITHDRAW = 21  # the same for a withdrawal (one event, the acceptances ended)
ANSWER = 6  # what an action answers with, read after it: the agreement with the seat's own
# revision; the rules (for the summary) and the wordings they point at; the one rule's comments;
# who answered the waiting wordings (events, acceptances). One card is made, not every card (one
# query fewer than before for a card with a wording waiting: its live acceptances are its
# round's; for the card of a rule in force or resting, as accepting and withdrawing leave it, the
# same six as before, the wordings read by id instead of joined)
THERAPIST_HOME = 6  # the user, a second factor, the live accesses with their news and last
# activity, the counts of their rules, the current partners of those couples, the open links
# The check-in screens read everything afresh for each request (checkins/pages.py): the same
# queries on the first request and every other.
CHECKIN_LIST = 7  # the user; the partner's current seat with the couple, agreement and the
# couple's partners (access.current_seat, as every partner page); the check-ins and their answers
# (the list shows no words and no named rule); the rules a new one may name and their titles,
# read by id (only while none is open: the start form shows only then); the check-ins a therapist
# invited to
CHECKIN = 5  # the user; the check-in with its couple, agreement and who started it, found only
# in a couple the person has a seat in; the couple's partners; its answers; its named rules (and,
# when it names any, their own wordings by id)
REVEALED_CHECKIN = CHECKIN + 1  # and whether a therapist can read the agreement now (only then
# is "Share with our therapist" offered: therapy.has_live_therapist)


def lived_in(seats, therapist: User | None = None) -> None:
    """An agreement in every state a card can show; with a therapist, their comments on three
    rules and the partners' replies."""
    rules = list(agreement_in_every_state(*seats).values())
    if therapist is not None:
        therapist_review(seats, therapist, rules[:3])


def queries(client, path: str, **headers) -> tuple[int, object]:
    """The queries of a third request (the session settled, a visit begun)."""
    for _ in range(2):
        client.get(path, headers=headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    return len(captured), response


def test_the_signed_in_floor_costs_one_query_the_user(alice_client, settings):
    settings.ROOT_URLCONF = "tests.floor_urls"
    count, response = queries(alice_client, "/bench/floor/signed-in")
    assert response.status_code == 200
    assert count == SIGNED_IN_FLOOR


def test_the_agreement_page_costs_the_same_queries_for_10_or_200_rules(
    couple, alice_client, dana_2fa
):
    lived_in(couple, dana_2fa)
    ten, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 10
    assert ten == AGREEMENT_PAGE

    rules_of_their_own(*couple, 190)
    many, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('class="rule-card ') == 200
    assert many == ten


def test_the_therapists_couple_page_costs_the_same_queries_for_10_or_200_rules(couple, dana_2fa):
    lived_in(couple, dana_2fa)
    client = client_for(dana_2fa)
    path = reverse("therapist:couple", args=[agreement_of(couple[0]).pk])
    ten, _ = queries(client, path)
    assert ten == THERAPIST_COUPLE_PAGE
    rules_of_their_own(*couple, 190)
    many, response = queries(client, path)
    assert response.content.decode().count('class="rule-card ') == 200
    assert many == ten


def test_a_changed_poll_costs_the_same_queries_for_10_or_200_rules(couple, alice_client):
    lived_in(couple)
    poll = reverse("agreements:poll")
    ten, response = queries(alice_client, poll, if_none_match='"old"', hx_request="true")
    assert response.status_code == 200
    rules_of_their_own(*couple, 190)
    many, _ = queries(alice_client, poll, if_none_match='"old"', hx_request="true")
    assert many == ten


def test_the_printable_page_costs_the_same_queries_for_10_or_200_rules(couple, alice_client):
    lived_in(couple)
    ten, _ = queries(alice_client, reverse("agreements:print"))
    assert ten == PRINT_PAGE
    rules_of_their_own(*couple, 190)
    many, response = queries(alice_client, reverse("agreements:print"))
    assert response.status_code == 200
    in_force = Rule.objects.filter(agreement=agreement_of(couple[0]), state=Rule.State.ACTIVE)
    assert response.content.decode().count('class="print-rule"') == in_force.count() > 90
    assert many == ten


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
    ten = accept_one()  # rule 5: Alice's yes, sealed until Bob's answer reveals it
    assert ten == ACCEPT
    rules_of_their_own(*couple, 190)
    rule = rules_of(couple[0])[8]  # the same again: nobody had answered rule 9
    consent.accept(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
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


def test_an_actions_answer_costs_the_same_queries_for_10_or_200_rules(couple, rf):
    """The answer to an action, read after it and rendered: the one card and the summary out of
    band, never every card."""

    def answer() -> int:
        seat = current_seat(couple[1].user)
        viewer = Viewer(Viewer.PARTNER, seat)
        rule = rules_of(couple[0])[4]  # Alice's yes, sealed: waiting for Bob
        request = rf.get(reverse("agreements:agreement"))
        request.user = couple[1].user
        with CaptureQueriesContext(connection) as captured:
            context = pages.card_after_action(seat, rule.pk, viewer)
            html = render_to_string(f"{pages.PAGE[Viewer.PARTNER]}#card-response", context, request)
        assert html.count('class="rule-card ') == 1
        assert context["card"].needs_you and context["summary"]["needs_you"]
        return len(captured)

    lived_in(couple)
    ten = answer()
    assert ten == ANSWER
    rules_of_their_own(*couple, 190)
    assert answer() == ten


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

    add_couples(49)
    fifty, response = queries(client, reverse("therapist:home"))
    assert response.content.decode().count('class="card client"') == 50
    assert fifty == one


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
    assert few == REVEALED_CHECKIN
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


def due_for_review(seats, count: int) -> None:
    """`count` rules of their own, both accepted a month and a day ago with a monthly review:
    all due for review now, none lapsed."""
    a, b = seats
    with as_of(timezone.now() - timedelta(days=32)):
        for n in range(count):
            rule = consent.propose_rule(
                partner=a, agreement=agreement_of(a), title="", text=f"Ours {n}.", review_after="1m"
            )
            both_accept(rule, a, b)


def test_the_agreement_page_with_reviews_due_costs_one_query_more_for_2_or_40_of_them(
    couple, alice_client, dana_2fa
):
    lived_in(couple, dana_2fa)
    due_for_review(couple, 2)
    few, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('data-review-due="true"') == 2
    assert few == AGREEMENT_PAGE + 1  # the Keep it answers of the reviews due (rounds.py)
    due_for_review(couple, 38)
    many, response = queries(alice_client, reverse("agreements:agreement"))
    assert response.content.decode().count('data-review-due="true"') == 40
    assert many == few


def test_an_unchanged_poll_with_reviews_due_still_costs_one_query(couple, alice_client):
    due_for_review(couple, 3)
    etag = alice_client.get(reverse("agreements:agreement"))["ETag"]
    count, response = queries(
        alice_client, reverse("agreements:poll"), if_none_match=etag, hx_request="true"
    )
    assert response.status_code == 304
    assert count == POLL
