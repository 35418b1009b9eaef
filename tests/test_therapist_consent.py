"""Therapist consent that keeps its word (issue 23): nothing about a request, a declined request
or its level reaches a therapist (pages, timeline, counts, export, emails) until both partners
agree, and then only from that moment; the second partner may answer with the narrower level; at
"the rules" level no partner is named and no answer dated; every sentence a therapist reads is
written for a therapist; a therapist's private link labels; a suggested check-in that waits and
blocks nothing; sharing a check-in only with a therapist who has access."""

import json
import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils.html import strip_tags

from agreements import consent, therapy
from agreements.models import ClientLink, Event, TherapistAccess
from agreements.stories import agreement_in_every_state, therapist_review
from checkins import services
from checkins.models import CheckIn
from tests.checkin_helpers import revealed
from tests.conftest import (
    agreement_of,
    client_for,
    grant_therapist,
    make_user,
    reauthenticate,
)
from tests.test_therapist import with_second_factor

Status = TherapistAccess.Status
Scope = TherapistAccess.Scope
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings) -> None:
    # Many re-authentications (the export, the access page) within a minute.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def erin(db):
    return with_second_factor(make_user("erin@example.com", "Erin", therapist=True))


def normal(response) -> tuple[int, str]:
    return response.status_code, CSRF.sub(r"\1…", response.content.decode())


def everything_a_therapist_sees(therapist, agreement, rule) -> dict[str, tuple[int, str]]:
    """Every page, count and export a therapist can reach about this couple, as they read it:
    home (counts, last activity, links), the couple page, a rule's history, the timeline, the
    printable page, the shared check-ins, and their data export in both forms (but for the
    moment it was made, which is the export's own)."""
    client = _clients.get(therapist.pk)
    if client is None:
        # One session, re-authenticated once: each re-authentication is a moment of the
        # therapist's own account data (their export lists it).
        client = _clients[therapist.pk] = client_for(therapist)
        reauthenticate(client, therapist)
    args = [agreement.pk]
    seen = {
        "home": normal(client.get(reverse("therapist:home"))),
        "couple": normal(client.get(reverse("therapist:couple", args=args))),
        "history": normal(client.get(reverse("therapist:history", args=[*args, rule.pk]))),
        "timeline": normal(client.get(reverse("therapist:timeline", args=args))),
        "print": normal(client.get(reverse("therapist:print", args=args))),
        "check-ins": normal(client.get(reverse("checkins:therapist_list", args=args))),
    }
    exported = json.loads(client.get(reverse("accounts:export_json")).content)
    exported.pop("exported_at")
    seen["export.json"] = (200, json.dumps(exported, sort_keys=True))
    markdown = client.get(reverse("accounts:export_markdown")).content.decode()
    seen["export.md"] = (200, re.sub(r"Exported [^\n]*", "", markdown))
    return seen


_clients: dict = {}


@pytest.fixture(autouse=True)
def _new_sessions():
    _clients.clear()


def mail_to(therapist) -> list[tuple[str, str]]:
    return [(m.subject, m.body) for m in mail.outbox if therapist.email in m.to]


def _asked_and_declined_for_erin(w):
    """Another therapist's link: Alice asks for the rules and their history, Bob declines."""
    _, token = therapy.create_client_link(therapist=w.erin)
    w.before_the_request()  # Erin's link is on her home before anyone asks with it
    asked = therapy.ask_partner(partner=w.alice, token=token, scope=Scope.HISTORY)
    w.bob_says("therapist_request", asked.pk, "decline")


def _history_asked_and_kept_back(w):
    """Dana reads the rules; Alice asks to share the history too; Bob keeps to the rules."""
    w.before_the_request()
    w.alice_says_on_access_page("widen")
    w.bob_says_on_access_page("narrow")


def _history_asked_and_taken_back(w):
    w.before_the_request()
    w.alice_says_on_access_page("widen")
    w.alice_says_on_access_page("narrow")


def _dana_asked_again_after_it_ended_and_declined(w):
    """Dana's access ended; Alice asks with a new link of Dana's, and Bob declines it."""
    w.bob_says_on_access_page("end")
    _, token = therapy.create_client_link(therapist=w.dana)
    w.before_the_request()  # Dana's new link is there before anyone asks with it
    asked = therapy.ask_partner(partner=w.alice, token=token, scope=Scope.HISTORY)
    w.bob_says("therapist_request", asked.pk, "decline")


def _asked_and_taken_back_by_the_asker(w):
    _, token = therapy.create_client_link(therapist=w.erin)
    w.before_the_request()
    asked = therapy.ask_partner(partner=w.alice, token=token, scope=Scope.RULES)
    w.alice_says("therapist_request", asked.pk, "decline")


class Couple:
    """Alice and Bob in every state, Dana reviewing them (with her comments and Alice's
    replies), and Erin, another therapist with no access."""

    def __init__(self, couple, dana, erin, scope):
        self.alice, self.bob = couple
        self.dana, self.erin = dana, erin
        self.rules = agreement_in_every_state(self.alice, self.bob)
        self.access = therapist_review(couple, dana, [self.rules["in_force"]])
        if scope == Scope.RULES:
            therapy.narrow_scope(partner=self.bob, access_id=self.access.pk)
        self.agreement = agreement_of(self.alice)
        self.clients = {}
        for seat in couple:
            self.clients[seat.pk] = client_for(seat.user)
            reauthenticate(self.clients[seat.pk], seat.user)
        self.seen_before = None

    def before_the_request(self):
        mail.outbox.clear()
        # A first look is a visit ("Nothing new since your last visit"): the pages are compared
        # as a therapist who had looked already reads them.
        for therapist in (self.dana, self.erin):
            everything_a_therapist_sees(therapist, self.agreement, self.rules["paused"])
        self.seen_before = {
            t.display_name: everything_a_therapist_sees(t, self.agreement, self.rules["paused"])
            for t in (self.dana, self.erin)
        }

    def _post(self, seat, url, data):
        response = self.clients[seat.pk].post(url, data)
        assert response.status_code == 302, response.content.decode()[:500]

    def bob_says(self, page, access_id, action):
        self._post(self.bob, reverse(f"agreements:{page}", args=[access_id]), {"action": action})

    def alice_says(self, page, access_id, action):
        self._post(self.alice, reverse(f"agreements:{page}", args=[access_id]), {"action": action})

    def _on_access_page(self, seat, action):
        url = reverse("agreements:therapist_access")
        self._post(seat, url, {"access": self.access.pk, "action": action})

    def alice_says_on_access_page(self, action):
        self._on_access_page(self.alice, action)

    def bob_says_on_access_page(self, action):
        self._on_access_page(self.bob, action)


DECLINED = {
    "another therapist's request, declined": (Scope.HISTORY, _asked_and_declined_for_erin),
    "the history asked for and kept back": (Scope.RULES, _history_asked_and_kept_back),
    "the history asked for and taken back": (Scope.RULES, _history_asked_and_taken_back),
    "a new request after access ended, declined": (
        Scope.HISTORY,
        _dana_asked_again_after_it_ended_and_declined,
    ),
    "a request taken back by the partner who made it": (
        Scope.HISTORY,
        _asked_and_taken_back_by_the_asker,
    ),
}


@pytest.mark.parametrize("case", DECLINED)
def test_a_request_that_is_declined_changes_nothing_any_therapist_can_see(
    case, couple, dana_2fa, erin, django_capture_on_commit_callbacks
):
    scope, story = DECLINED[case]
    w = Couple(couple, dana_2fa, erin, scope)
    with django_capture_on_commit_callbacks(execute=True):
        story(w)  # it looks at everything just before the request (w.before_the_request)
    after = {
        t.display_name: everything_a_therapist_sees(t, w.agreement, w.rules["paused"])
        for t in (w.dana, w.erin)
    }
    for therapist, pages in w.seen_before.items():
        for name, (status, body) in pages.items():
            assert after[therapist][name][0] == status, (therapist, name)
            assert after[therapist][name][1] == body, f"{therapist}'s {name} changed"
    assert mail_to(w.dana) == [] and mail_to(w.erin) == []
    # The partners, whose business it is, do see it.
    partners = w.clients[w.alice.pk].get(reverse("agreements:timeline")).content.decode()
    assert "therapist" in partners


def test_the_history_page_and_counts_at_the_history_level_leave_the_request_out(
    couple, dana_2fa, erin
):
    """What the parametrised test compares, said in words: no sentence, count or export field
    about a request, and the therapist's access is told from the moment both agreed."""
    w = Couple(couple, dana_2fa, erin, Scope.HISTORY)
    client = client_for(dana_2fa)
    timeline = client.get(reverse("therapist:timeline", args=[w.agreement.pk])).content.decode()
    assert "asked to give" not in timeline and "declined therapist access" not in timeline
    assert "<bdi>Bob</bdi> agreed too, and your access began." in timeline
    reauthenticate(client, dana_2fa)
    exported = json.loads(client.get(reverse("accounts:export_json")).content)
    (access,) = exported["therapist_accesses"]
    assert "requested_at" not in access and access["granted_at"] is not None
    seen = Event.objects.seen_through(w.access)
    assert not seen.filter(kind__in=["access_requested", "access_declined"]).exists()
    assert seen.filter(kind="access_granted").count() == 1


def test_a_request_agreed_later_shows_only_from_the_moment_of_agreement(
    couple, dana_2fa, django_capture_on_commit_callbacks
):
    """Dana's first request is declined, her second agreed: her export lists the one access,
    her timeline the one moment both agreed, and no request at all."""
    alice, bob = couple
    _, token = therapy.create_client_link(therapist=dana_2fa)
    first = therapy.ask_partner(partner=alice, token=token, scope=Scope.HISTORY)
    therapy.decline(partner=bob, access_id=first.pk)
    with django_capture_on_commit_callbacks(execute=True):
        access = grant_therapist(couple, dana_2fa)
    assert [m.to for m in mail.outbox if "dana@example.com" in m.to] == [["dana@example.com"]]
    client = client_for(dana_2fa)
    reauthenticate(client, dana_2fa)
    exported = json.loads(client.get(reverse("accounts:export_json")).content)
    assert [a["id"] for a in exported["therapist_accesses"]] == [access.pk]
    markdown = client.get(reverse("accounts:export_markdown")).content.decode()
    assert "declined" not in markdown and "requested" not in markdown
    timeline = client.get(reverse("therapist:timeline", args=[access.agreement_id]))
    text = timeline.content.decode()
    assert text.count("your access began") == 1
    assert "asked" not in text and "declined therapist access" not in text


# -- "the rules" level: the state, never who or when ---------------------------------------------


def _cards_and_sections(html: str) -> list[str]:
    """Every rule card, the pause, and the comments on the whole agreement, as the page has
    them; a comment's own date (when it was written) left out, as comments are shared."""
    parts = re.findall(r'<article class="rule-card.*?</article>', html, re.S)
    parts += re.findall(r'<section id="pause".*?</section>', html, re.S)
    parts += re.findall(r'<section id="comments".*?</section>', html, re.S)
    parts += re.findall(r'<ol class="print-rules">.*?</ol>', html, re.S)
    return [re.sub(r"<time[^>]*>[^<]*</time>", "", part) for part in parts]


def test_at_the_rules_level_no_card_names_a_partner_or_dates_an_answer(couple, dana_2fa, erin):
    w = Couple(couple, dana_2fa, erin, Scope.RULES)
    consent.not_yet(
        partner=w.bob,
        rule=w.rules["waiting_for_b"],
        version_id=w.rules["waiting_for_b"].pending_version_id,
        note="After the holidays.",
    )
    therapy.add_comment(agreement=w.agreement, partner=w.bob, text="We read it together.")
    consent.pause_everything(partner=w.bob, note="Time out.")
    client = client_for(dana_2fa)
    pages = {
        "couple": client.get(reverse("therapist:couple", args=[w.agreement.pk])),
        "print": client.get(reverse("therapist:print", args=[w.agreement.pk])),
    }
    found = 0
    for name, response in pages.items():
        assert response.status_code == 200, name
        for part in _cards_and_sections(response.content.decode()):
            found += 1
            for word in ("Alice", "Bob", "You ", "Proposed by", " since ", *MONTHS):
                assert word not in part, (name, word, part[:300])
            assert "not yet" not in part.lower() or "said" not in part.lower()
    assert found > 10
    couple_page = pages["couple"].content.decode()
    # What the level shares is still there: the wording, each rule's state, the comments.
    assert w.rules["in_force"].current_version.text[:40] in couple_page
    assert "Resting" in couple_page and "Waiting for an answer" in couple_page
    assert "We read it together." in couple_page and "One of the partners" in couple_page
    assert "Worth talking through" in couple_page  # Dana's own comment, by her name
    # The pages beyond the rules are not there at all.
    for page in ("timeline", "history"):
        args = [w.agreement.pk] + ([w.rules["paused"].pk] if page == "history" else [])
        assert client.get(reverse(f"therapist:{page}", args=args)).status_code == 404


def test_at_the_history_level_the_therapist_reads_who_and_when(couple, dana_2fa, erin):
    w = Couple(couple, dana_2fa, erin, Scope.HISTORY)
    page = client_for(dana_2fa).get(reverse("therapist:couple", args=[w.agreement.pk]))
    text = page.content.decode()
    assert "Proposed by <bdi>Bob</bdi>" in text
    assert "<bdi>Alice</bdi> withdrew consent on" in text
    assert "In force since" in text


def test_every_sentence_a_therapist_reads_is_written_for_a_therapist(couple, dana_2fa, erin):
    w = Couple(couple, dana_2fa, erin, Scope.HISTORY)
    suggestion = therapy.suggest_rule(
        therapist=dana_2fa, agreement=w.agreement, title="Slow Sundays", text="Sunday is slow."
    )
    therapy.set_aside_suggestion(partner=w.bob, suggestion_id=suggestion.pk)
    consent.reopen(partner=w.alice, rule=w.rules["paused"])
    client = client_for(dana_2fa)
    for name in ("couple", "timeline", "print"):
        html = client.get(reverse(f"therapist:{name}", args=[w.agreement.pk])).content.decode()
        text = unescape(strip_tags(html))  # the sentences as read, names inside them
        for addressed_to_the_couple in (
            "you can propose different wording",
            "you had agreed",
            "with Dana",
            "Dana's suggestion",
            "accepted by both of you",
            "our history",
            "your history",
        ):
            assert addressed_to_the_couple not in text, (name, addressed_to_the_couple)
    home = client.get(reverse("therapist:home")).content.decode()
    assert "our history" not in home and "the rules and their history" in home
    timeline = client.get(reverse("therapist:timeline", args=[w.agreement.pk])).content.decode()
    assert "<bdi>Bob</bdi> set aside your suggestion “<bdi>Slow Sundays</bdi>”." in timeline
    assert "You suggested a new rule." in timeline
    # The resting card, at the rules level too.
    therapy.narrow_scope(partner=w.alice, access_id=w.access.pk)
    consent.withdraw(partner=w.bob, rule=w.rules["also_in_force"])
    couple_page = client.get(reverse("therapist:couple", args=[w.agreement.pk])).content.decode()
    assert "you can propose" not in couple_page
    assert "It rests, not in force, until it is reopened" in couple_page
    # After the access ended, the home says so.
    therapy.end_access(partner=w.bob, access_id=w.access.pk)
    home = client.get(reverse("therapist:home")).content.decode()
    assert "No couple has given you access yet" not in home
    assert "the access you had has ended" in home and "data-access-ended" in home


# -- "Agree, but only the rules" ------------------------------------------------------------------


def test_the_second_partner_can_agree_to_the_narrower_level(
    couple, alice, bob, bob_client, dana_2fa, django_capture_on_commit_callbacks
):
    _, token = therapy.create_client_link(therapist=dana_2fa)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.HISTORY)
    reauthenticate(bob_client, bob)
    url = reverse("agreements:therapist_request", args=[asked.pk])
    page = bob_client.get(url).content.decode()
    assert ">Agree<" in page and ">Decline<" in page
    assert "Agree, but only the rules" in page
    assert therapy.statement(Scope.RULES, dana_2fa) in page.replace("&#x27;", "'")
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(url, {"action": "agree_rules"})
    assert response.status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.scope) == (Status.ACTIVE, Scope.RULES)
    assert asked.statement == therapy.statement(Scope.RULES, dana_2fa)
    assert [m.to for m in mail.outbox if "dana@example.com" in m.to] == [["dana@example.com"]]
    access_page = bob_client.get(reverse("agreements:therapist_access")).content.decode()
    assert f'data-access="{asked.pk}" data-status="active" data-scope="rules"' in access_page
    dana = client_for(dana_2fa)
    agreement = asked.agreement_id
    assert dana.get(reverse("therapist:couple", args=[agreement])).status_code == 200
    assert dana.get(reverse("therapist:timeline", args=[agreement])).status_code == 404


def test_the_narrower_answer_is_offered_only_when_more_was_asked(couple, bob, bob_client, dana_2fa):
    _, token = therapy.create_client_link(therapist=dana_2fa)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    reauthenticate(bob_client, bob)
    page = bob_client.get(reverse("agreements:therapist_request", args=[asked.pk]))
    assert "Agree, but only the rules" not in page.content.decode()
    # And the service never answers with more than was asked.
    therapy.agree(partner=couple[1], access_id=asked.pk, scope=Scope.RULES)
    asked.refresh_from_db()
    assert asked.scope == Scope.RULES


def test_the_asker_cannot_answer_their_own_request_with_the_narrower_level(
    couple, alice, alice_client, dana_2fa
):
    _, token = therapy.create_client_link(therapist=dana_2fa)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.HISTORY)
    reauthenticate(alice_client, alice)
    page = alice_client.get(reverse("agreements:therapist_request", args=[asked.pk]))
    assert "Agree, but only the rules" not in page.content.decode()
    alice_client.post(
        reverse("agreements:therapist_request", args=[asked.pk]), {"action": "agree_rules"}
    )
    asked.refresh_from_db()
    assert asked.status == Status.REQUESTED


# -- the therapist's private labels ---------------------------------------------------------------


def test_a_therapist_labels_a_link_and_only_they_ever_see_it(
    couple, alice, alice_client, bob, bob_client, dana_2fa, erin
):
    link, token = therapy.create_client_link(therapist=dana_2fa)
    dana = client_for(dana_2fa)
    # A word no page writes by itself ("Tuesday" was, on a Tuesday, in the timeline's headings).
    label = "Quokka <b>couple</b> & co"
    response = dana.post(reverse("therapist:label_link", args=[link.pk]), {"label": label})
    assert response.status_code == 302
    assert response["Location"] == reverse("therapist:home") + f"#link-{link.pk}"
    link.refresh_from_db()
    assert link.label == label
    home = dana.get(reverse("therapist:home")).content.decode()
    assert "Quokka &lt;b&gt;couple&lt;/b&gt; &amp; co" in home and "<b>couple" not in home
    # The couple opens the link, asks and agrees: the client card carries the label.
    reauthenticate(alice_client, alice)
    link_page = alice_client.get(reverse("agreements:client_link", args=[token])).content.decode()
    alice_client.post(reverse("agreements:client_link", args=[token]), {"scope": "rules"})
    asked = TherapistAccess.objects.get(client_link=link)
    reauthenticate(bob_client, bob)
    bob_client.post(reverse("agreements:therapist_request", args=[asked.pk]), {"action": "agree"})
    home = dana.get(reverse("therapist:home")).content.decode()
    client_card = re.search(r'<section class="card client".*?</section>', home, re.S).group(0)
    assert "Quokka &lt;b&gt;couple" in client_card
    # Relabelled from the client card, through the same link URL.
    dana.post(reverse("therapist:label_link", args=[link.pk]), {"label": "The Quokka couple"})
    assert "The Quokka couple" in dana.get(reverse("therapist:home")).content.decode()
    # The couple never sees it, anywhere.
    seen_by_couple = [link_page]
    for client in (alice_client, bob_client):
        for name in ("agreements:agreement", "agreements:therapist_access", "agreements:timeline"):
            seen_by_couple.append(client.get(reverse(name)).content.decode())
        seen_by_couple.append(client.get(reverse("accounts:export_json")).content.decode())
        seen_by_couple.append(client.get(reverse("accounts:export_markdown")).content.decode())
    for text in seen_by_couple:
        assert "Quokka" not in text
    # Dana's own export has it.
    reauthenticate(dana, dana_2fa)
    exported = json.loads(dana.get(reverse("accounts:export_json")).content)
    assert [x["label"] for x in exported["client_links"]] == ["The Quokka couple"]


def test_another_therapist_cannot_label_a_link_and_a_label_has_a_limit(dana_2fa, erin, alice):
    link, _ = therapy.create_client_link(therapist=dana_2fa)
    url = reverse("therapist:label_link", args=[link.pk])
    assert client_for(erin).post(url, {"label": "Mine now"}).status_code == 404
    assert client_for(alice).post(url, {"label": "Mine now"}).status_code == 404
    dana = client_for(dana_2fa)
    response = dana.post(url, {"label": "x" * 81}, follow=True)
    assert "at most 80 characters" in response.content.decode()
    assert dana.post(url, {"label": "Two\nlines"}).status_code == 302
    link.refresh_from_db()
    assert link.label == ""
    with pytest.raises(consent.ConsentError):
        therapy.label_client_link(therapist=dana_2fa, link_id=link.pk, label="y" * 81)
    with pytest.raises(therapy.LinkNotFound):
        therapy.label_client_link(therapist=erin, link_id=link.pk, label="Mine")
    therapy.label_client_link(therapist=dana_2fa, link_id=link.pk, label="  The   Lees  ")
    assert ClientLink.objects.get(pk=link.pk).label == "The Lees"


# -- check-ins: a suggested one waits; sharing needs a therapist ---------------------------------


def test_a_suggested_check_in_waits_without_blocking_the_open_one(couple, alice, bob, dana_2fa):
    access = grant_therapist(couple, dana_2fa)
    agreement = agreement_of(couple[0])
    open_one, _ = services.start(partner=couple[0], topic="Saturday")
    services.seal(partner=couple[0], checkin=open_one, want="Slower.", overall=4)
    invitation = therapy.invite_to_checkin(
        therapist=dana_2fa, agreement=agreement, prompt="What felt good this week?"
    )
    bob_client = client_for(bob)
    listed = bob_client.get(reverse("checkins:list")).content.decode()
    assert "data-exercise-waits" in listed and "Start this check-in" not in listed
    response = bob_client.post(reverse("checkins:start_exercise", args=[invitation.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("checkins:list")
    told = bob_client.get(reverse("checkins:list")).content.decode()
    assert "this one waits" in told
    # Nothing was lost or changed: Alice's sealed answer stands, the invitation still waits.
    open_one.refresh_from_db()
    assert open_one.status == "open" and open_one.closed_at is None
    assert open_one.answers.get(partner=couple[0]).is_sealed
    assert list(therapy.pending_exercises(agreement)) == [invitation]
    # The open one goes on to its reveal, and then the suggested one starts.
    services.seal(partner=couple[1], checkin=open_one, want="Closer.", overall=5)
    assert "Start this check-in" in bob_client.get(reverse("checkins:list")).content.decode()
    response = bob_client.post(reverse("checkins:start_exercise", args=[invitation.pk]))
    started = CheckIn.objects.exclude(pk=open_one.pk).get()
    assert response["Location"] == reverse("checkins:checkin", args=[started.pk])
    assert started.topic == "What felt good this week?"
    assert list(therapy.pending_exercises(agreement)) == []
    assert access.status == Status.ACTIVE


def test_a_waiting_suggestion_blocks_no_check_in_of_the_couples_own(couple, dana_2fa):
    grant_therapist(couple, dana_2fa)
    therapy.invite_to_checkin(
        therapist=dana_2fa, agreement=agreement_of(couple[0]), prompt="Later, please."
    )
    checkin, created = services.start(partner=couple[1], topic="Our own")
    assert created and checkin.topic == "Our own"


def test_sharing_with_a_therapist_is_offered_and_done_only_when_one_has_access(
    couple, alice, dana_2fa
):
    checkin = revealed(*couple)
    alice_client = client_for(alice)
    url = reverse("checkins:checkin", args=[checkin.pk])
    page = alice_client.get(url).content.decode()
    assert "Share with our therapist" not in page
    response = alice_client.post(reverse("checkins:share", args=[checkin.pk]), {"share": "yes"})
    assert response.status_code in (302, 409)
    assert not checkin.answers.filter(shared_with_therapist=True).exists()
    with pytest.raises(services.CheckInError, match="No therapist has access"):
        services.set_sharing(partner=couple[0], checkin=checkin, share=True)

    access = grant_therapist(couple, dana_2fa)
    page = alice_client.get(url).content.decode()
    assert "Share with our therapist" in page
    services.set_sharing(partner=couple[0], checkin=checkin, share=True)
    assert checkin.answers.get(partner=couple[0]).shared_with_therapist
    # Access ends: sharing is no longer offered, but stopping is, and works.
    therapy.end_access(partner=couple[1], access_id=access.pk)
    page = alice_client.get(url).content.decode()
    assert "Share with our therapist" not in page and "Stop sharing" in page
    services.set_sharing(partner=couple[0], checkin=checkin, share=False)
    assert not checkin.answers.get(partner=couple[0]).shared_with_therapist


def _client_meta(client) -> str:
    home = client.get(reverse("therapist:home")).content.decode()
    return re.search(r'<p class="meta">.*?</p>', home, re.S).group(0)


def test_at_the_rules_level_the_counts_tell_no_one_s_answers_nor_when(couple, dana_2fa, erin):
    """ "Updates since your last visit" and "last activity" count what the level lets the
    therapist read with its date: a partner's "not yet" is not one of them; a reply is."""
    w = Couple(couple, dana_2fa, erin, Scope.RULES)
    dana = client_for(dana_2fa)
    dana.get(reverse("therapist:couple", args=[w.agreement.pk]))  # a visit
    before = _client_meta(dana)
    assert "Nothing new since your last visit" in before
    consent.not_yet(
        partner=w.bob,
        rule=w.rules["waiting_for_b"],
        version_id=w.rules["waiting_for_b"].pending_version_id,
        note="After the holidays.",
    )
    assert _client_meta(dana) == before
    therapy.add_comment(agreement=w.agreement, partner=w.bob, text="We read it together.")
    assert "1 update</strong> since your last visit" in _client_meta(dana)
    # At the history level the same answer is news.
    therapy.widen_scope(partner=w.alice, access_id=w.access.pk)
    therapy.widen_scope(partner=w.bob, access_id=w.access.pk)
    consent.withdraw(partner=w.alice, rule=w.rules["also_in_force"])
    assert "updates</strong> since your last visit" in _client_meta(dana)
