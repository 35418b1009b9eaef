"""Pause everything (issue 22): one tap withdraws consent from every rule in force at once, with
an optional note. It is a withdrawal like any other: instant, no reason needed, nothing lost,
nothing else changed; the other partner sees every rule resting and who paused, when, with the
note; only the partner who paused can reopen, rule by rule or all at once (Reopen all)."""

import re

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import strip_tags

from accounts.models import Partner
from agreements import consent
from agreements.invariants import check_agreement
from agreements.models import Acceptance, Agreement, Event, Rule
from agreements.stories import agreement_in_every_state
from tests.conftest import agreement_of, both_accept, fresh

State = Rule.State
Kind = Event.Kind
NOTE = "I want us to stop and talk."


def snapshot(agreement: Agreement) -> dict:
    """Every rule's state and pointers, and every live acceptance, by rule."""
    rules = {
        r.pk: (
            r.state,
            r.current_version_id,
            r.pending_version_id,
            r.latest_version_id,
            r.agreed_version_id,
            r.proposed_by_id,
            r.withdrawn_by_id,
            r.withdrawn_at,
        )
        for r in agreement.rules.all()
    }
    live = set(
        Acceptance.objects.filter(
            version__rule__agreement=agreement, withdrawn_at__isnull=True
        ).values_list("version__rule_id", "version_id", "partner_id")
    )
    return {"rules": rules, "live": live}


@pytest.fixture
def story(couple) -> dict[str, Rule]:
    """Alice and Bob's agreement in every state (agreements.stories): four rules in force, one
    with a change Bob proposed; rule 7 rests, withdrawn by Alice before any pause."""
    return agreement_in_every_state(*couple)


def in_force(agreement: Agreement) -> list[Rule]:
    return list(agreement.rules.filter(state=State.ACTIVE).order_by("pk"))


# -- the service ----------------------------------------------------------------------------------


def test_pausing_rests_every_rule_in_force_and_changes_nothing_else(couple, story):
    alice, bob = couple
    agreement = agreement_of(alice)
    was_in_force = {r.pk: r.current_version_id for r in in_force(agreement)}
    assert len(was_in_force) == 4
    before = snapshot(agreement)

    rested = consent.pause_everything(partner=alice, note=NOTE)

    assert sorted(r.pk for r in rested) == sorted(was_in_force)
    after = snapshot(agreement)
    for pk, agreed in was_in_force.items():
        rule = Rule.objects.get(pk=pk)
        assert rule.state == State.PAUSED
        assert rule.agreed_version_id == agreed  # nothing lost: the wording both had agreed
        assert rule.withdrawn_by_id == alice.pk
        assert not rule.may_reopen(bob.pk) and rule.may_reopen(alice.pk)
    # Proposals, the declined, the archived and the rule that already rested: untouched.
    untouched = {pk: row for pk, row in before["rules"].items() if pk not in was_in_force}
    assert {pk: after["rules"][pk] for pk in untouched} == untouched
    assert {a for a in after["live"] if a[0] not in was_in_force} == {
        a for a in before["live"] if a[0] not in was_in_force
    }
    # The change Bob proposed to a rule in force still waits, and Bob still consents to it.
    change = fresh(story["change_proposed"])
    assert change.pending_version_id == story["change_proposed"].pending_version_id
    assert (change.pk, change.pending_version_id, bob.pk) in after["live"]
    assert agreement.rules.filter(state=State.ACTIVE).count() == 0
    assert check_agreement(agreement) == []


def test_a_pause_is_one_event_with_the_note_then_a_withdrawal_of_each_rule(couple, story):
    alice, _ = couple
    agreement = agreement_of(alice)
    last = agreement.events.order_by("-pk").first().pk
    revision = agreement.revision
    rested = consent.pause_everything(partner=alice, note=NOTE)

    events = list(agreement.events.filter(pk__gt=last).order_by("pk"))
    assert [(e.kind, e.rule_id, e.partner_id, e.note) for e in events] == [
        (Kind.PAUSED_EVERYTHING, None, alice.pk, NOTE),
        *[(Kind.WITHDREW, r.pk, alice.pk, "") for r in rested],
    ]
    agreement.refresh_from_db()
    assert agreement.revision > revision
    assert (agreement.paused_by_id, agreement.pause_note) == (alice.pk, NOTE)
    assert agreement.paused_at <= events[0].created_at


def test_a_pause_happens_in_one_transaction_all_or_nothing(couple, story, monkeypatch):
    alice, _ = couple
    agreement = agreement_of(alice)
    before, events, revision = snapshot(agreement), agreement.events.count(), agreement.revision
    real, calls = consent.withdraw, []

    def withdraw_then_fail(**kwargs):
        calls.append(kwargs["rule"].pk)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(consent, "withdraw", withdraw_then_fail)
    with pytest.raises(RuntimeError):
        consent.pause_everything(partner=alice, note=NOTE)

    agreement.refresh_from_db()
    assert len(calls) == 3
    assert snapshot(agreement) == before
    assert agreement.events.count() == events
    assert agreement.revision == revision
    assert agreement.paused_by_id is None


def test_only_the_partner_who_paused_can_reopen_all(couple, story):
    alice, bob = couple
    agreement = agreement_of(alice)
    rested = consent.pause_everything(partner=alice, note=NOTE)
    before = snapshot(agreement)

    with pytest.raises(consent.ConsentError, match="Only the partner who paused"):
        consent.reopen_all(partner=bob)
    assert snapshot(agreement) == before

    reopened = consent.reopen_all(partner=alice, note="Ready to talk.")
    assert [r.pk for r in reopened] == [r.pk for r in rested]
    for rule in rested:
        rule = fresh(rule)
        # Proposed again by Alice, with her acceptance: in force once Bob accepts it too.
        assert rule.state == State.PROPOSED and rule.proposed_by_id == alice.pk
        assert rule.pending_version.acceptances.filter(
            partner=alice, withdrawn_at__isnull=True
        ).exists()
    # Rule 7, which Alice withdrew on its own before the pause, was a no of its own: it rests.
    assert fresh(story["paused"]).state == State.PAUSED
    agreement.refresh_from_db()
    assert agreement.paused_by_id is None and agreement.pause_note == ""
    assert agreement.events.filter(kind=Kind.REOPENED_ALL, partner=alice).get().note == (
        "Ready to talk."
    )
    assert check_agreement(agreement) == []
    both_accept(fresh(rested[0]), alice, bob)
    assert fresh(rested[0]).state == State.ACTIVE


def test_only_the_partner_who_paused_can_reopen_a_rule_one_by_one(couple, story):
    alice, bob = couple
    rested = consent.pause_everything(partner=alice)
    with pytest.raises(consent.ConsentError, match="Only the partner who withdrew"):
        consent.reopen(partner=bob, rule=rested[0])
    consent.reopen(partner=alice, rule=rested[0])
    assert fresh(rested[0]).state == State.PROPOSED
    # The pause lasts until Alice says so: Reopen all brings back the rest.
    assert agreement_of(alice).paused_by_id == alice.pk
    assert {r.pk for r in consent.reopen_all(partner=alice)} == {r.pk for r in rested[1:]}
    assert check_agreement(agreement_of(alice)) == []


def test_reopen_all_with_nothing_paused_does_nothing(couple, story):
    alice, bob = couple
    agreement = agreement_of(alice)
    before, events = snapshot(agreement), agreement.events.count()
    assert consent.reopen_all(partner=alice) == []
    assert consent.reopen_all(partner=bob) == []
    assert snapshot(agreement) == before and agreement.events.count() == events


def test_pausing_twice_by_mistake_records_one_pause(couple, story):
    alice, _ = couple
    agreement = agreement_of(alice)
    consent.pause_everything(partner=alice, note=NOTE)
    events = agreement.events.count()
    assert consent.pause_everything(partner=alice, note=NOTE) == []
    assert agreement.events.count() == events


def test_a_pause_with_nothing_in_force_is_still_heard_with_its_note(couple):
    alice, bob = couple
    agreement = agreement_of(alice)
    before = snapshot(agreement)
    assert consent.pause_everything(partner=bob, note="Can we slow down?") == []
    assert snapshot(agreement) == before
    agreement.refresh_from_db()
    assert (agreement.paused_by_id, agreement.pause_note) == (bob.pk, "Can we slow down?")
    assert agreement.events.get(kind=Kind.PAUSED_EVERYTHING).note == "Can we slow down?"


def test_the_other_partners_pause_during_a_pause_rests_what_came_back_and_keeps_the_first(
    couple, story
):
    alice, bob = couple
    agreement = agreement_of(alice)
    rested = consent.pause_everything(partner=alice, note=NOTE)
    # Alice brings one rule back, and both accept it; then Bob pauses too.
    consent.reopen(partner=alice, rule=rested[0])
    both_accept(fresh(rested[0]), alice, bob)
    assert consent.pause_everything(partner=bob, note="Me too.") == [fresh(rested[0])]

    assert fresh(rested[0]).withdrawn_by_id == bob.pk  # Bob's key, rule by rule
    agreement.refresh_from_db()
    assert (agreement.paused_by_id, agreement.pause_note) == (alice.pk, NOTE)  # Alice's pause
    assert agreement.events.get(kind=Kind.PAUSED_EVERYTHING, partner=bob).note == "Me too."
    # Alice's Reopen all reopens what her pause rested, never what Bob withdrew.
    assert {r.pk for r in consent.reopen_all(partner=alice)} == {r.pk for r in rested[1:]}
    assert fresh(rested[0]).state == State.PAUSED
    assert check_agreement(agreement) == []


def test_a_pause_emails_the_other_partner_once(
    couple, story, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        consent.pause_everything(partner=alice, note=NOTE)
    assert [m.to for m in mailoutbox] == [[bob.user.email]]
    assert NOTE not in mailoutbox[0].body


# -- the pages ------------------------------------------------------------------------------------


def day(at) -> str:
    return dateformat.format(timezone.localtime(at), "j F")


def test_the_other_partner_sees_every_rule_resting_and_who_paused_when_with_the_note(
    couple, story, alice_client, bob_client
):
    alice, _ = couple
    rested = consent.pause_everything(partner=alice, note=NOTE)
    when = day(agreement_of(alice).paused_at)

    page = bob_client.get(reverse("agreements:agreement")).content.decode()
    assert f"<bdi>Alice</bdi> paused everything on {when}" in page
    assert f'<q dir="auto">{NOTE}</q>' in page
    assert "Reopen all" not in page
    assert 'data-paused="by-partner"' in page
    for rule in rested:
        assert f'data-rule="{rule.pk}" data-state="paused"' in page
    assert 'data-state="active"' not in page
    assert "0 of 9</strong> rules in force" in page

    mine = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert f"You paused everything on {when}" in mine and "Reopen all" in mine
    assert 'data-paused="by-you"' in mine


def test_the_open_page_of_the_other_partner_gets_the_pause_at_its_next_poll(
    couple, story, bob_client
):
    alice, _ = couple
    etag = bob_client.get(reverse("agreements:agreement"))["ETag"]
    consent.pause_everything(partner=alice, note=NOTE)
    poll = bob_client.get(
        reverse("agreements:poll"), headers={"hx-request": "true", "if-none-match": etag}
    )
    assert poll.status_code == 200
    assert "<bdi>Alice</bdi> paused everything on" in poll.content.decode()
    assert NOTE in poll.content.decode()


def test_pause_everything_without_javascript_is_a_post_and_a_redirect(
    couple, story, alice_client, bob_client
):
    alice, _ = couple
    response = alice_client.post(reverse("agreements:pause_everything"), {"note": NOTE})
    assert response.status_code == 302
    assert response["Location"] == reverse("agreements:agreement") + "#live"
    assert in_force(agreement_of(alice)) == []
    page = alice_client.get(response["Location"]).content.decode()
    assert "You paused everything on" in page

    response = bob_client.post(reverse("agreements:reopen_all"))
    assert response.status_code == 302
    assert "Only the partner who paused" in bob_client.get(response["Location"]).content.decode()
    response = alice_client.post(reverse("agreements:reopen_all"))
    assert response.status_code == 302
    assert agreement_of(alice).paused_by_id is None


def test_pause_everything_with_htmx_answers_with_the_live_region_and_a_blank_control(
    couple, story, alice_client
):
    alice, _ = couple
    response = alice_client.post(
        reverse("agreements:pause_everything"), {"note": NOTE}, headers={"hx-request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="live"')
    assert "You paused everything on" in html and "Reopen all" in html
    control = re.search(r'<form id="pause-control".*?</form>', html, re.S).group(0)
    assert 'hx-swap-oob="true"' in control
    assert NOTE not in control  # the note went; the field is blank again
    assert response["ETag"] == agreement_of(alice).etag_for(Partner.objects.get(pk=alice.pk))

    response = alice_client.post(reverse("agreements:reopen_all"), headers={"hx-request": "true"})
    assert response.status_code == 200
    assert "paused everything on" not in response.content.decode()


def test_a_pause_note_that_is_too_long_is_refused_and_nothing_changes(couple, story, alice_client):
    alice, _ = couple
    response = alice_client.post(
        reverse("agreements:pause_everything"), {"note": "x" * 1001}, headers={"hx-request": "true"}
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert len(in_force(agreement_of(alice))) == 4


def test_the_pause_button_is_at_the_top_and_offers_no_confirmation(couple, alice_client):
    page = alice_client.get(reverse("agreements:agreement")).content.decode()
    control = page.index('id="pause-control"')
    assert control < page.index('id="live"') and control < page.index("Propose a new rule")
    form = re.search(r'<form id="pause-control".*?</form>', page, re.S).group(0)
    assert ">Pause everything</button>" in form
    assert "hx-confirm" not in form and "confirm(" not in form
    assert 'name="note"' in form


def test_the_timeline_tells_the_pause_with_its_note_and_the_reopening(
    couple, story, bob_client, alice_client
):
    alice, bob = couple
    # Bob's visit began after the story was told: what follows is news to him.
    now = timezone.now()
    Partner.objects.filter(pk=bob.pk).update(previous_visit_at=now, seen_at=now)
    consent.pause_everything(partner=alice, note=NOTE)

    news = bob_client.get(reverse("agreements:agreement")).content.decode()
    since = news[news.index('id="news-heading"') :]
    assert "<bdi>Alice</bdi> paused everything:" in since and NOTE in since

    consent.reopen_all(partner=alice, note="Thank you for waiting.")
    timeline = bob_client.get(reverse("agreements:timeline")).content.decode()
    assert "<bdi>Alice</bdi> paused everything:" in timeline and NOTE in timeline
    assert "<bdi>Alice</bdi> reopened all the paused rules:" in timeline
    # The withdrawals of the pause are one sentence, not one per rule.
    # (The other line is the story's own withdrawal, with its note, days before.)
    assert timeline.count("<bdi>Alice</bdi> withdrew consent from rule") == 2
    assert timeline.count(": they rest, not in force") == 1
    assert "Thank you for waiting." in timeline
    assert (
        "You paused everything:"
        in alice_client.get(reverse("agreements:timeline")).content.decode()
    )


@pytest.mark.parametrize("scope", ["history", "rules"])
def test_the_therapist_sees_that_everything_is_paused_and_who_only_with_the_history(
    couple, story, dana_2fa, scope
):
    from agreements.stories import grant_therapist
    from tests.conftest import client_for

    alice, _ = couple
    grant_therapist(couple, dana_2fa, scope=scope)
    consent.pause_everything(partner=alice, note=NOTE)
    page = (
        client_for(dana_2fa)
        .get(reverse("therapist:couple", args=[agreement_of(alice).pk]))
        .content.decode()
    )
    assert "Reopen all" not in page and 'data-paused="by-partner"' in page
    if scope == "history":
        assert f"<bdi>Alice</bdi> paused everything on {day(agreement_of(alice).paused_at)}" in page
        assert NOTE in page
    else:
        assert "One of the partners paused everything" in page
        assert NOTE not in page and "Alice paused" not in strip_tags(page)
