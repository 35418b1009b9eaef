"""Review dates (issue 24): a rule may come up for review; then both say Keep it, Change it or
Let it rest, sealed like every other answer, and a rule nobody answered within two weeks rests by
itself. The state is a function of the clock: these tests move it (django.utils.timezone.now is
patched), never sleep."""

import io
import json
import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from agreements import consent, therapy
from agreements.invariants import check_agreement
from agreements.models import REVIEW_GRACE, Event, Rule, TherapistAccess, add_months
from agreements.stories import grant_therapist
from intimacy import privacy
from tests.conftest import agreement_of, client_for, fresh

Kind = Event.Kind
START = datetime.fromisoformat("2027-01-07T10:00:00+00:00")


@contextmanager
def clock(moment: datetime):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = False


def reviewed_rule(alice, bob, review_after: str = "3m", text: str = "We talk on Sundays.") -> Rule:
    """A rule Alice proposed with this review interval and Bob accepted, at START."""
    with clock(START):
        rule = consent.propose_rule(
            partner=alice,
            agreement=agreement_of(alice),
            title="Sundays",
            text=text,
            review_after=review_after,
        )
        consent.accept(partner=bob, rule=rule, version_id=fresh(rule).pending_version_id)
    return fresh(rule)


def read(rule: Rule, at: datetime) -> Rule:
    """The rule as a reader at that moment sees it (its state is read then)."""
    with clock(at):
        return fresh(rule)


def due_at(rule: Rule, at: datetime) -> bool:
    with clock(at):
        return fresh(rule).review_due


CSRF = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def scrubbed(html: str) -> str:
    return CSRF.sub(r"\1…", html)


def run_command() -> str:
    out = io.StringIO()
    call_command("review_rules", stdout=out)
    return out.getvalue()


def sound(seat) -> None:
    assert check_agreement(agreement_of(seat)) == []


# -- the review date is part of the accepted wording -----------------------------------------------


def test_accepting_a_wording_accepts_its_review_date(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    assert rule.is_in_force
    assert rule.current_version.review_after == "3m"
    assert rule.review_at == add_months(START, 3) == START.replace(month=4)
    sound(alice)


def test_a_rule_without_a_review_date_never_lapses(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "")
    assert rule.review_at is None
    later = read(rule, START + timedelta(days=3650))
    assert later.is_in_force and not due_at(rule, START + timedelta(days=3650))


def test_changing_only_the_review_date_is_a_change_both_accept(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    with clock(START + timedelta(days=1)):
        with pytest.raises(consent.NothingChanged):
            consent.propose_change(
                partner=bob,
                rule=rule,
                title="Sundays",
                text="We talk on Sundays.",
                review_after="3m",
            )
        consent.propose_change(
            partner=bob, rule=rule, title="Sundays", text="We talk on Sundays.", review_after="12m"
        )
    rule = fresh(rule)
    assert rule.is_in_force and rule.current_version.review_after == "3m"
    assert rule.pending_version.review_after == "12m"
    with clock(START + timedelta(days=2)):
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    rule = fresh(rule)
    assert rule.current_version.review_after == "12m"
    assert rule.review_at == add_months(START + timedelta(days=2), 12)
    sound(alice)


def test_a_stale_acceptance_of_another_review_date_is_refused(couple):
    alice, bob = couple
    with clock(START):
        rule = consent.propose_rule(
            partner=alice, agreement=agreement_of(alice), title="", text="Ours.", review_after="1m"
        )
    seen_by_bob = rule.pending_version_id
    with clock(START + timedelta(minutes=1)):
        consent.propose_change(partner=alice, rule=rule, title="", text="Ours.", review_after="6m")
        with pytest.raises(consent.StaleVersion):
            consent.accept(partner=bob, rule=rule, version_id=seen_by_bob)
    assert not fresh(rule).is_in_force
    sound(alice)


# -- when a review comes -----------------------------------------------------------------------------


def test_a_rule_is_due_for_review_exactly_at_its_review_moment(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    review = rule.review_at
    assert not due_at(rule, review - timedelta(seconds=1))
    assert due_at(rule, review)
    with clock(review - timedelta(seconds=1)), pytest.raises(consent.ReviewClosed):
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)


def test_keep_and_keep_keeps_the_rule_and_its_next_review_is_the_same_interval_later(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    review = rule.review_at
    with clock(review + timedelta(days=2)):
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
        assert fresh(rule).review_due  # one keep: still open
        consent.keep(partner=bob, rule=rule, version_id=rule.current_version_id)
    kept = read(rule, review + timedelta(days=2))
    assert kept.is_in_force and not due_at(rule, review + timedelta(days=2))
    assert kept.review_at == add_months(review, 3)
    # Past the old lapse moment it is still in force: it was kept.
    assert read(rule, review + REVIEW_GRACE + timedelta(days=1)).is_in_force
    kinds = list(rule.events.values_list("kind", "private_to"))
    assert kinds[-3:] == [(Kind.KEEP_ANSWER, None), (Kind.KEEP_ANSWER, None), (Kind.KEPT, None)]
    with clock(review + timedelta(days=2)):
        sound(alice)


def test_keep_and_let_rest_rests_the_rule_at_once_with_the_one_who_let_it_rest(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    at = rule.review_at + timedelta(hours=1)
    with clock(at):
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
        consent.let_rest(partner=bob, rule=rule, version_id=rule.current_version_id)
        rested = fresh(rule)
        assert rested.is_resting and rested.withdrawn_by_id == bob.pk
        assert rested.may_reopen(bob.pk) and not rested.may_reopen(alice.pk)
        # Alice's keep stays sealed for good: Bob never learns she wanted to keep it.
        keep = rule.events.get(kind=Kind.KEEP_ANSWER)
        assert keep.private_to_id == alice.pk
        assert not Event.objects.filter(pk=keep.pk).visible_to(bob.pk).exists()
        assert rule.events.filter(kind=Kind.LET_REST, partner=bob).exists()
        sound(alice)


def test_let_it_rest_first_ends_the_review_and_keep_is_then_refused(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    with clock(rule.review_at):
        consent.let_rest(partner=alice, rule=rule, version_id=rule.current_version_id)
        with pytest.raises(consent.ReviewClosed):
            consent.keep(partner=bob, rule=rule, version_id=rule.current_version_id)
        assert fresh(rule).is_resting
        sound(alice)


def test_change_it_is_a_proposal_and_in_force_it_closes_the_review(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    at = rule.review_at + timedelta(days=1)
    with clock(at):
        consent.propose_change(
            partner=bob, rule=rule, title="Sundays", text="We talk on Saturdays.", review_after="6m"
        )
        changed = fresh(rule)
        assert changed.is_in_force and changed.review_due  # the review stays open meanwhile
        assert rule.events.filter(kind=Kind.CHANGED_AT_REVIEW, partner=bob).exists()
        consent.accept(partner=alice, rule=rule, version_id=changed.pending_version_id)
        now_in_force = fresh(rule)
    assert now_in_force.current_version.text == "We talk on Saturdays."
    assert now_in_force.review_at == add_months(at, 6)
    assert read(rule, at + REVIEW_GRACE).is_in_force
    with clock(at):
        sound(alice)


def test_no_answer_from_both_within_14_days_rests_the_rule_at_that_moment_without_a_write(couple):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    lapse = rule.review_at + REVIEW_GRACE
    with clock(rule.review_at + timedelta(days=1)):
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
    events = rule.events.count()
    before = read(rule, lapse - timedelta(seconds=1))
    assert before.is_in_force and due_at(rule, lapse - timedelta(seconds=1))
    after = read(rule, lapse)
    assert after.is_resting and after.has_lapsed and not after.is_in_force
    assert after.may_reopen(alice.pk) and after.may_reopen(bob.pk)  # nobody holds the key
    assert rule.events.count() == events  # nothing was written: the clock decided
    with clock(lapse):
        sound(alice)
        # The next service that acts on it writes the lapse first; either may reopen.
        consent.reopen(partner=bob, rule=rule)
        reopened = fresh(rule)
        assert reopened.state == Rule.State.PROPOSED and reopened.proposed_by_id == bob.pk
        assert list(rule.events.values_list("kind", flat=True))[-2:] == [
            Kind.LAPSED,
            Kind.REOPENED,
        ]
        assert rule.events.get(kind=Kind.LAPSED).created_at == lapse
        sound(alice)


def test_every_page_shows_a_lapsed_rule_resting(couple, alice_client):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    lapse = rule.review_at + REVIEW_GRACE
    with clock(lapse - timedelta(seconds=1)):
        page = alice_client.get(reverse("agreements:agreement")).content.decode()
        assert f'data-rule="{rule.pk}" data-state="active"' in page
        printed = alice_client.get(reverse("agreements:print")).content.decode()
        assert "We talk on Sundays." in printed
    with clock(lapse):
        page = alice_client.get(reverse("agreements:agreement")).content.decode()
        assert f'data-rule="{rule.pk}" data-state="paused"' in page
        assert "Either of you can reopen it." in page
        printed = alice_client.get(reverse("agreements:print")).content.decode()
        assert "We talk on Sundays." not in printed


# -- what the cards say -----------------------------------------------------------------------------


def test_a_due_rule_stays_active_with_its_review_date_and_due_flag(couple, alice_client):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    with clock(START + timedelta(days=1)):
        page = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert f'data-review-on="{rule.review_at:%Y-%m-%d}"' in page
    assert "Review on 7 April 2027" in page
    assert 'data-review-due="true"' not in page
    with clock(rule.review_at):
        page = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert 'data-state="active"' in page and 'data-review-due="true"' in page
    assert "Time to review" in page
    for label in ("Keep it", "Change it", "Let it rest"):
        assert label in page
    assert "1 rule is ready to look at again" in page


def test_every_form_that_proposes_wording_offers_the_review_choice(couple, alice_client):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "")
    for url in (
        reverse("agreements:new_rule"),
        reverse("agreements:change", args=[rule.pk]),
    ):
        page = alice_client.get(url).content.decode()
        assert 'name="review_after"' in page
        for value in ("", "1m", "3m", "6m", "12m"):
            assert f'value="{value}"' in page


def test_a_review_chosen_in_the_form_is_proposed_with_the_wording(couple, alice_client):
    alice, bob = couple
    alice_client.post(
        reverse("agreements:new_rule"),
        {"title": "Walks", "text": "We walk on Fridays.", "review_after": "6m", "note": ""},
    )
    rule = agreement_of(alice).rules.order_by("position").last()
    assert rule.pending_version.text == "We walk on Fridays."
    assert rule.pending_version.review_after == "6m"
    page = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert "Comes up for review in six months once you both accept it" in page
    response = alice_client.post(
        reverse("agreements:new_rule"), {"title": "", "text": "Other.", "review_after": "5m"}
    )
    assert response.status_code == 422


# -- sealed like every other answer -----------------------------------------------------------------


def test_a_keep_is_sealed_from_the_partner_the_therapist_the_poll_and_email(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "3m")
    at = rule.review_at + timedelta(hours=2)
    bob_client = client_for(bob.user)
    with clock(at):
        before = bob_client.get(reverse("agreements:agreement")).content.decode()
        etag = bob_client.get(reverse("agreements:poll"))["ETag"]
        bob_export = json.dumps(privacy.export_data(bob.user)["couples"], default=str)
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
        assert mailoutbox == []
        poll = bob_client.get(reverse("agreements:poll"), headers={"if-none-match": etag})
        assert poll.status_code == 304
        after = bob_client.get(reverse("agreements:agreement")).content.decode()
        assert scrubbed(after) == scrubbed(before)  # not a word of it
        assert "said keep it" not in after.lower()
        assert json.dumps(privacy.export_data(bob.user)["couples"], default=str) == bob_export
        timeline = bob_client.get(reverse("agreements:timeline")).content.decode()
        assert "keep" not in timeline.lower()
        # Alice sees her own answer, sealed.
        mine = client_for(alice.user).get(reverse("agreements:agreement")).content.decode()
        assert "You said keep it. Sealed until <bdi>Bob</bdi> answers too." in mine
        # Both kept: revealed together, told in the history.
        consent.keep(partner=bob, rule=rule, version_id=rule.current_version_id)
        timeline = bob_client.get(reverse("agreements:timeline")).content.decode()
        assert "kept rule" in timeline


# -- the poll and the clock ---------------------------------------------------------------------------


def test_the_polls_etag_changes_when_a_review_comes_and_at_the_lapse_moment_without_a_write(
    couple, alice_client
):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    agreement = agreement_of(alice)
    revision = agreement.revision
    poll = reverse("agreements:poll")

    def etag_at(moment):
        with clock(moment):
            return alice_client.get(poll)["ETag"]

    def answer_at(moment, etag):
        with clock(moment):
            return alice_client.get(poll, headers={"if-none-match": etag}).status_code

    due, lapse = rule.review_at, rule.review_at + REVIEW_GRACE
    quiet = etag_at(due - timedelta(seconds=1))
    assert answer_at(due - timedelta(seconds=1), quiet) == 304
    assert answer_at(due, quiet) == 200
    open_review = etag_at(due)
    assert answer_at(lapse - timedelta(seconds=1), open_review) == 304
    assert answer_at(lapse, open_review) == 200
    assert agreement_of(alice).revision == revision  # no write moved anything
    with clock(lapse):
        page = alice_client.get(reverse("agreements:agreement"))
        assert page["ETag"] == etag_at(lapse)


# -- the scheduled command and its one email ---------------------------------------------------------


def test_the_command_records_lapses_once_and_sends_one_neutral_email_through_the_queue(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m", text="A private wording nobody emails.")
    mailoutbox.clear()
    with (
        clock(rule.review_at + timedelta(minutes=5)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_command()
        run_command()
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]
    for message in mailoutbox:
        assert message.subject == (
            "Something in your agreement is ready to look at again · Rules of the Road"
        )
        assert "A private wording" not in message.body and "Sundays" not in message.body
    mailoutbox.clear()
    # No reminders: later runs, even past the hourly limit, send nothing for this review.
    with (
        clock(rule.review_at + timedelta(days=3)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_command()
    assert mailoutbox == []
    lapse = rule.review_at + REVIEW_GRACE
    with clock(lapse + timedelta(hours=1)):
        with django_capture_on_commit_callbacks(execute=True):
            first, again = run_command(), run_command()
        assert first.startswith("Recorded 1 lapsed review;")
        assert again.startswith("Recorded 0 lapsed reviews;")
        assert rule.events.filter(kind=Kind.LAPSED).count() == 1
        stored = Rule.objects.values_list("state", "withdrawn_by").get(pk=rule.pk)
        assert stored == (Rule.State.PAUSED, None)
        sound(alice)
    assert mailoutbox == []


def test_no_review_email_while_the_page_is_open(
    couple, mailoutbox, django_capture_on_commit_callbacks, alice_client
):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    mailoutbox.clear()
    with clock(rule.review_at + timedelta(minutes=5)):
        alice_client.get(reverse("agreements:poll"))  # Alice has the page open
        with django_capture_on_commit_callbacks(execute=True):
            run_command()
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]


# -- history, exports, print, therapist ------------------------------------------------------------


def test_history_exports_and_print_carry_review_dates_and_outcomes(couple, alice_client):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    other = reviewed_rule(alice, bob, "12m", text="We sleep in on Saturdays.")
    at = rule.review_at + timedelta(hours=1)
    with clock(at):
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
        consent.keep(partner=bob, rule=rule, version_id=rule.current_version_id)
        history = alice_client.get(reverse("agreements:history", args=[rule.pk])).content
        assert "You both kept rule" in history.decode() or "kept rule" in history.decode()
        printed = alice_client.get(reverse("agreements:print")).content.decode()
        assert "Review on 7 March 2027" in printed  # the next review after keeping
        assert "Comes up for review next" in printed
        data = privacy.export_data(alice.user)
        markdown = privacy.export_markdown(alice.user)
    text = json.dumps(data, default=str)
    assert "review_on" in text and "2027-03-07" in text
    assert '"kept"' in text or "kept" in text
    assert "Review on" in markdown
    assert other.review_at.date().isoformat() in text


# -- the demo ---------------------------------------------------------------------------------------


def test_seed_demo_gives_the_demo_couple_one_review_due_today_and_one_next_month(db, settings):
    settings.DEBUG = True
    first, again = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=again)
    assert "Demo logins: alice@example.com, bob@example.com" in first.getvalue()
    assert first.getvalue().count("\n") == again.getvalue().count("\n")
    seat = User.objects.get(email="alice@example.com").current_partner_seat()
    reviewed = [r for r in agreement_of(seat).rules.all() if r.review_at is not None]
    assert len(reviewed) == 2  # told once
    due = [r for r in reviewed if r.review_due]
    later = [r for r in reviewed if not r.review_due]
    assert len(due) == 1 and due[0].is_in_force
    assert (
        len(later) == 1
        and later[0].review_at.date() == add_months(later[0].in_force_since, 1).date()
    )
    assert check_agreement(agreement_of(seat)) == []


# -- the therapist ------------------------------------------------------------------------------------


def test_the_therapist_sees_review_dates_at_both_levels_and_outcomes_at_the_history_level(
    couple, dana_2fa
):
    alice, bob = couple
    rule = reviewed_rule(alice, bob, "1m")
    access = grant_therapist(couple, dana_2fa, scope=TherapistAccess.Scope.RULES)
    dana = client_for(dana_2fa)
    agreement = agreement_of(alice).pk
    couple_page = reverse("therapist:couple", args=[agreement])
    timeline = reverse("therapist:timeline", args=[agreement])
    with clock(rule.review_at + timedelta(hours=1)):
        page = dana.get(couple_page).content.decode()
        assert f'data-review-on="{rule.review_at:%Y-%m-%d}"' in page
        assert 'data-review-due="true"' in page and "Keep it</button>" not in page
        assert dana.get(timeline).status_code == 404  # the rules level: no history
        # A sealed Keep it changes nothing the therapist can see.
        consent.keep(partner=alice, rule=rule, version_id=rule.current_version_id)
        assert dana.get(couple_page).content.decode().count("keep it") == page.count("keep it")
        # Both partners widen the access to their history.
        therapy.widen_scope(partner=alice, access_id=access.pk)
        therapy.widen_scope(partner=bob, access_id=access.pk)
        assert "said keep it" not in dana.get(timeline).content.decode()
        consent.keep(partner=bob, rule=rule, version_id=rule.current_version_id)
        told = dana.get(timeline).content.decode()
        assert "Both partners kept rule" in told


def test_a_review_interval_the_app_does_not_offer_is_refused_by_the_service(couple):
    alice, bob = couple
    with pytest.raises(consent.ConsentError):
        consent.propose_rule(
            partner=alice, agreement=agreement_of(alice), title="", text="X.", review_after="5m"
        )
    rule = reviewed_rule(alice, bob, "")
    with pytest.raises(consent.ConsentError):
        consent.propose_change(partner=bob, rule=rule, title="", text="Y.", review_after="99m")
