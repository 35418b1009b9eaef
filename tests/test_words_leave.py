"""Your words leave with you: when a person deletes their account (or, from the archive of a
partnership that ended, asks for it), everything they wrote leaves the former partner's archive
(notes, comments, check-in answers, ratings), shown as "removed by its author"; the wording of the
rules they had in force together stays."""

import json
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts import linking
from accounts.models import Partner
from agreements import consent, partnership, therapy
from agreements.models import Agreement, Comment, Event
from agreements.stories import accept
from checkins import services as checkins
from checkins.models import Answer
from intimacy import privacy
from tests.conftest import both_accept, client_for, fresh, reauthenticate, rules_of

# Everything Alice writes, each sentence found nowhere else.
ALICE_SAYS = {
    "proposal_note": "Alicenote one: I would love this on slow mornings.",
    "not_yet_note": "Alicenote two: not before we have talked it through.",
    "withdraw_note": "Alicenote three: I need a rest from this one.",
    "comment": "Alicenote four: thank you for writing this with me.",
    "pause_note": "Alicenote five: a quiet week for me, please.",
    "sensation": "Alicewords sensation: my hips ached and my jaw was tight.",
    "emotion": "Alicewords emotion: tender and a little afraid.",
    "want": "Alicewords want: to go slower next time.",
    "reply": "Alicewords reply: I loved reading yours.",
    "topic": "Alicetopic Saturday",
    "proposal_title": "Alicetitle slow mornings",
    "proposal_wording": "Alicewording: we keep Sunday mornings slow and unhurried.",
    "change_wording": "Alicewording: we stop at once when either of us says so.",
}
# A rule Alice proposed and Bob accepted: in force together, so its wording stays.
TOGETHER = ("Tea after", "Tea after, and we talk about it.")
BOB_SAYS = {
    "decline_note": "Bobnote: this one is not for me.",
    "want": "Bobwords want: more kissing first.",
}
SHARED_RULE_TEXT_WORDS = 6  # enough of the in-force wording to recognise it


@pytest.fixture
def story(alice, bob, couple):
    """Alice and Bob: a rule in force together, notes on proposals and answers, comments, a
    pause with a note, and three revealed check-ins (the chart shows from three)."""
    a, b = couple
    agreement = Agreement.objects.get(couple_id=a.couple_id)
    rules = rules_of(a)
    shared = both_accept(rules[0], a, b)
    both_accept(rules[1], a, b)
    proposed = consent.propose_rule(
        partner=a,
        agreement=agreement,
        title=ALICE_SAYS["proposal_title"],
        text=ALICE_SAYS["proposal_wording"],
        note=ALICE_SAYS["proposal_note"],
    )
    consent.decline(
        partner=b,
        rule=proposed,
        version_id=fresh(proposed).pending_version_id,
        note=BOB_SAYS["decline_note"],
    )
    consent.not_yet(
        partner=a,
        rule=rules[2],
        version_id=fresh(rules[2]).pending_version_id,
        note=ALICE_SAYS["not_yet_note"],
    )
    accept(b, rules[2])
    consent.withdraw(partner=a, rule=fresh(rules[1]), note=ALICE_SAYS["withdraw_note"])
    therapy.add_comment(agreement=agreement, partner=a, text=ALICE_SAYS["comment"])
    therapy.add_comment(agreement=agreement, partner=b, text="Bobnote: and thank you.")
    consent.pause_everything(partner=a, note=ALICE_SAYS["pause_note"])
    consent.reopen_all(partner=a)
    accept(b, rules[0])  # in force together again
    tea = consent.propose_rule(partner=a, agreement=agreement, title=TOGETHER[0], text=TOGETHER[1])
    accept(b, tea)
    consent.propose_change(
        partner=a, rule=fresh(shared), title="", text=ALICE_SAYS["change_wording"]
    )
    for n in range(3):
        checkin, _ = checkins.start(partner=a, topic=ALICE_SAYS["topic"] if n == 0 else "")
        checkins.seal(
            partner=a,
            checkin=checkin,
            sensation=ALICE_SAYS["sensation"],
            emotion=ALICE_SAYS["emotion"],
            want=ALICE_SAYS["want"],
            overall=1,
            wanted_to_stop="yes",
        )
        checkins.seal(partner=b, checkin=checkin, want=BOB_SAYS["want"], overall=4)
    checkins.add_reply(partner=a, checkin=checkin, text=ALICE_SAYS["reply"])
    return {"agreement": agreement, "shared": fresh(shared), "a": a, "b": b}


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def crawl(client: Client, starts: list[str]) -> dict[str, str]:
    """Every page of this site the client reaches by following links (GET only) from `starts`:
    the pages a person can read, as they read them."""
    seen: dict[str, str] = {}
    queue = list(starts)
    while queue:
        url = queue.pop()
        if url in seen or len(seen) > 200:
            continue
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            seen[url] = ""
            continue
        html = response.content.decode()
        seen[url] = html
        for href in re.findall(r'href="([^"]+)"', html):
            parts = urlsplit(unescape(href))
            if parts.netloc or not parts.path.startswith(("/agreement/", "/checkins/")):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def test_deleting_an_account_takes_every_word_of_it_from_the_former_partners_pages(
    story, alice, bob
):
    agreement, shared = story["agreement"], story["shared"]
    alice_client = client_for(alice)
    reauthenticate(alice_client, alice)
    assert alice_client.post("/settings/delete/", {"confirm": "on"}).status_code == 200

    bob_client = client_for(bob)
    pages = crawl(
        bob_client,
        [
            "/",
            reverse("agreements:archived", args=[agreement.pk]),
            reverse("agreements:archived_timeline", args=[agreement.pk]),
            reverse("agreements:archived_print", args=[agreement.pk]),
            reverse("checkins:archived", args=[agreement.pk]),
        ],
    )
    read = {url: text_of(html) for url, html in pages.items() if html}
    # The crawl reached the archive, its timeline, its print, its check-ins and each check-in.
    assert len([u for u in read if re.fullmatch(r"/checkins/\d+/", u)]) == 3
    everything = "\n".join(read.values())
    for sentence in ALICE_SAYS.values():
        assert sentence not in everything, sentence
    assert "Alicenote" not in everything and "Alicewords" not in everything
    # Shown as removed, not as empty; Bob's own words stay; the rule they had in force stays.
    archive = read[reverse("agreements:archived_timeline", args=[agreement.pk])]
    assert archive.count("(removed by its author)") >= 4
    assert "Former partner removed their own words from this archive." in archive
    assert BOB_SAYS["decline_note"] in everything and BOB_SAYS["want"] in everything
    shared_words = " ".join(shared.current_version.text.split()[:SHARED_RULE_TEXT_WORDS])
    assert shared_words in read[reverse("agreements:archived", args=[agreement.pk])]
    assert shared_words in read[reverse("agreements:archived_print", args=[agreement.pk])]
    assert TOGETHER[1] in read[reverse("agreements:archived", args=[agreement.pk])]
    # Her wordings never in force with him (a proposal he declined, a change waiting) are gone.
    assert (
        read[reverse("agreements:archived", args=[agreement.pk])].count("(removed by its author)")
        >= 2
    )
    assert TOGETHER[1] in read[reverse("agreements:archived_print", args=[agreement.pk])]
    checkin_page = next(t for u, t in read.items() if re.fullmatch(r"/checkins/\d+/", u))
    assert "(removed by its author)" in checkin_page


def test_her_ratings_leave_the_chart(story, alice, bob):
    privacy.delete_account(user=alice)
    html = client_for(bob).get(reverse("checkins:archived", args=[story["agreement"].pk]))
    table = re.search(r'<table class="chart-table">.*?</table>', html.content.decode(), re.S)
    cells = re.findall(r"<td>(.*?)</td>", table.group(0))
    assert cells.count("removed by its author") == 3 and cells.count("Good") == 3
    assert not any("hurt" in cell for cell in cells)
    # The former partner's series has no point left.
    assert set(
        Answer.objects.filter(partner__user__isnull=True).values_list("overall", flat=True)
    ) == {None}


def test_the_former_partners_export_holds_none_of_her_words(story, alice, bob):
    privacy.delete_account(user=alice)
    client = client_for(bob)
    reauthenticate(client, bob)
    as_json = client.get(reverse("accounts:export_json")).content.decode()
    as_markdown = client.get(reverse("accounts:export_markdown")).content.decode()
    data = json.loads(as_json)
    for sentence in ALICE_SAYS.values():
        assert sentence not in as_json and sentence not in as_markdown, sentence
    assert BOB_SAYS["decline_note"] in as_markdown and BOB_SAYS["want"] in as_markdown
    assert "(removed by its author)" in as_markdown
    shared_words = " ".join(story["shared"].current_version.text.split()[:SHARED_RULE_TEXT_WORDS])
    assert shared_words in as_markdown and TOGETHER[1] in as_markdown
    events = data["couples"][0]["agreement"]["events"]
    assert any(e["note_removed"] for e in events)
    answers = [a for c in data["couples"][0]["checkins"] for a in c["answers"]]
    assert {a["removed"] for a in answers if not a["is_you"]} == {True}


def test_the_deletion_page_says_exactly_what_leaves_and_what_stays(alice, couple):
    client = client_for(alice)
    reauthenticate(client, alice)
    page = text_of(client.get("/settings/delete/").content.decode())
    assert (
        "your check-in answers, your notes (with proposals and answers), your comments and the "
        "wordings you proposed that never came into force for both of you read “removed by its "
        "author”, and your ratings leave the check-in chart" in page
    )
    assert "The wording of rules that were in force for both of you stays" in page


# -- from the archive, after the partnership ended ---------------------------------------------------


def test_a_former_partner_removes_their_words_from_the_archive(story, alice, bob):
    agreement = story["agreement"]
    linking.end_partnership(user=bob)
    client = client_for(alice)
    archive = client.get(reverse("agreements:archived", args=[agreement.pk])).content.decode()
    url = reverse("accounts:remove_words", args=[agreement.pk])
    assert f'href="{url}"' in archive and "Remove my words" in archive
    # A dangerous action: a fresh password first.
    assert client.get(url).status_code == 302
    reauthenticate(client, alice)
    confirm = text_of(client.get(url).content.decode())
    assert "The wording of rules that were in force for both of you stays" in confirm
    revision = Agreement.objects.get(pk=agreement.pk).revision
    response = client.post(url)
    assert response.status_code == 302
    assert Agreement.objects.get(pk=agreement.pk).revision > revision
    assert Event.objects.filter(agreement=agreement, kind=Event.Kind.WORDS_REMOVED).count() == 1
    assert Partner.objects.get(pk=story["a"].pk).words_removed_at is not None

    bob_pages = crawl(client_for(bob), [reverse("agreements:archived", args=[agreement.pk])])
    everything = "\n".join(text_of(html) for html in bob_pages.values())
    for sentence in ALICE_SAYS.values():
        assert sentence not in everything, sentence
    assert "Alice removed their own words from this archive." in everything
    assert BOB_SAYS["want"] in everything
    # Alice's own archive says so, and offers nothing more; a second post changes nothing.
    again = text_of(
        client.get(reverse("agreements:archived", args=[agreement.pk])).content.decode()
    )
    assert "You removed your words from this archive on" in again
    assert "Remove my words" not in again
    client.post(url)
    assert Event.objects.filter(agreement=agreement, kind=Event.Kind.WORDS_REMOVED).count() == 1


def test_removing_words_keeps_the_other_partners_words_and_the_rules(story, alice, bob):
    linking.end_partnership(user=alice)
    privacy.remove_words(user=bob, agreement_id=story["agreement"].pk)
    alice_comment = Comment.objects.get(partner=story["a"])
    assert alice_comment.text == ALICE_SAYS["comment"] and not alice_comment.removed
    assert Comment.objects.get(partner=story["b"]).removed
    assert set(Answer.objects.filter(partner=story["a"]).values_list("sensation", flat=True)) == {
        ALICE_SAYS["sensation"]
    }
    assert set(Answer.objects.filter(partner=story["b"]).values_list("removed", flat=True)) == {
        True
    }
    assert fresh(story["shared"]).current_version.text == story["shared"].current_version.text


def test_only_an_ended_partnership_and_only_ones_own(story, alice, bob, carol, other_couple):
    agreement = story["agreement"]
    url = reverse("accounts:remove_words", args=[agreement.pk])
    # While the partnership lasts, there is no archive to take words from.
    client = client_for(alice)
    reauthenticate(client, alice)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    with pytest.raises(partnership.NotYours):
        privacy.remove_words(user=alice, agreement_id=agreement.pk)
    linking.end_partnership(user=alice)
    # Someone else's archive is a 404.
    stranger = client_for(carol)
    reauthenticate(stranger, carol)
    assert stranger.get(url).status_code == 404
    assert stranger.post(url).status_code == 404
    assert not Event.objects.filter(kind=Event.Kind.WORDS_REMOVED).exists()


# -- at the same moment (real connections; PostgreSQL's row locks) ----------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_removing_words_at_the_same_moment_happens_once_for_each(alice, bob):
    from tests.concurrency import run_together
    from tests.conftest import link

    for n in range(4):
        a, b = link(alice, bob)
        agreement = Agreement.objects.get(couple_id=a.couple_id)
        therapy.add_comment(agreement=agreement, partner=a, text=f"Alicenote {n}")
        therapy.add_comment(agreement=agreement, partner=b, text=f"Bobnote {n}")
        linking.end_partnership(user=alice if n % 2 else bob)
        calls = [
            lambda: privacy.remove_words(user=alice, agreement_id=agreement.pk),
            lambda: privacy.remove_words(user=alice, agreement_id=agreement.pk),
            lambda: privacy.remove_words(user=bob, agreement_id=agreement.pk),
        ]
        results = run_together(*calls)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert Event.objects.filter(agreement=agreement, kind=Event.Kind.WORDS_REMOVED).count() == 2
        assert set(Comment.objects.filter(agreement=agreement).values_list("removed", "text")) == {
            (True, "")
        }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_while_the_other_removes_their_words(alice, bob):
    from tests.concurrency import run_together
    from tests.conftest import link

    a, b = link(alice, bob)
    agreement = Agreement.objects.get(couple_id=a.couple_id)
    therapy.add_comment(agreement=agreement, partner=a, text="Alicenote")
    therapy.add_comment(agreement=agreement, partner=b, text="Bobnote")
    linking.end_partnership(user=bob)
    results = run_together(
        lambda: privacy.delete_account(user=alice),
        lambda: privacy.remove_words(user=bob, agreement_id=agreement.pk),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Event.objects.filter(agreement=agreement, kind=Event.Kind.WORDS_REMOVED).count() == 2
    assert set(Comment.objects.filter(agreement=agreement).values_list("removed", flat=True)) == {
        True
    }
