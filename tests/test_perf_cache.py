"""What the speed-ups keep (issue 17): the rows a page reads once per revision live in each worker's
own memory (agreements/pages/memo.py), so two app servers are two memories over one database and
one shared cache. After every change, the very next request on either server shows the new
truth; the blind answer holds on the cached path; and no private words reach the shared cache."""

import pickle
import re
from contextlib import contextmanager, suppress
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime

from agreements import consent, therapy
from agreements.models import Rule, TherapistAccess
from agreements.pages import agreement as agreement_pages
from agreements.pages import memo
from agreements.stories import agreement_in_every_state, grant_therapist, link, therapist_review
from tests.conftest import agreement_of, client_for, fresh, make_user, rules_of

# Pages are kept only when read outside a transaction (pages/memo.py): as in production, each
# request here commits, instead of running inside the test's own transaction.
pytestmark = pytest.mark.django_db(transaction=True)


class Servers:
    """Two app servers: each has its own worker memory; the database and the cache are shared."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.memories = {"A": memo.WorkerMemo(512), "B": memo.WorkerMemo(512)}
        self.fragments = {"A": memo.WorkerMemo(256), "B": memo.WorkerMemo(256)}
        self.checkin_rows = {"A": memo.WorkerMemo(512), "B": memo.WorkerMemo(512)}
        self.checkin_html = {"A": memo.WorkerMemo(512), "B": memo.WorkerMemo(512)}
        self.sections = {"A": memo.WorkerMemo(2048), "B": memo.WorkerMemo(2048)}
        self.pages = {"A": memo.WorkerMemo(256), "B": memo.WorkerMemo(256)}
        self.prints = {"A": memo.WorkerMemo(256), "B": memo.WorkerMemo(256)}
        self.checkin_pages = {"A": memo.WorkerMemo(256), "B": memo.WorkerMemo(256)}

    @contextmanager
    def on(self, name: str):
        with self.monkeypatch.context() as patch:
            patch.setattr(memo, "page_rows", self.memories[name])
            patch.setattr(memo, "live_html", self.fragments[name])
            patch.setattr(memo, "checkin_rows", self.checkin_rows[name])
            patch.setattr(memo, "checkin_html", self.checkin_html[name])
            patch.setattr(memo, "client_sections", self.sections[name])
            patch.setattr(memo, "agreement_pages", self.pages[name])
            patch.setattr(memo, "print_pages", self.prints[name])
            patch.setattr(memo, "checkin_pages", self.checkin_pages[name])
            yield

    def afresh(self, client, path: str):
        """The page from a server that has just started: nothing in its memory."""
        self.memories["new"] = memo.WorkerMemo(512)
        self.fragments["new"] = memo.WorkerMemo(256)
        self.checkin_rows["new"] = memo.WorkerMemo(512)
        self.checkin_html["new"] = memo.WorkerMemo(512)
        self.sections["new"] = memo.WorkerMemo(2048)
        self.pages["new"] = memo.WorkerMemo(256)
        self.prints["new"] = memo.WorkerMemo(256)
        self.checkin_pages["new"] = memo.WorkerMemo(256)
        return self.get("new", client, path)

    def get(self, name: str, client, path: str, **headers):
        with self.on(name):
            return client.get(path, headers=headers)

    def post(self, name: str, client, path: str, data: dict):
        with self.on(name):
            return client.post(path, data, headers={"hx-request": "true"})


@pytest.fixture
def servers(monkeypatch) -> Servers:
    return Servers(monkeypatch)


def card_state(html: str, rule: Rule) -> str:
    marker = f'id="rule-{rule.pk}"'
    start = html.index(marker)
    found = html[start : html.index(">", start)]
    return found.split('data-state="')[1].split('"')[0]


def warm(servers: Servers, *clients) -> None:
    """Every client's page and poll on both servers, twice, so that both memories hold this
    revision: the rows, the rendered rules and each viewer's whole page."""
    for name in ("A", "B"):
        for client in clients:
            for _ in range(2):
                assert servers.get(name, client, "/agreement/").status_code == 200
                poll = servers.get(name, client, "/agreement/poll/", hx_request="true")
                assert poll.status_code == 200
    # The whole page is rendered afresh (it holds the check-in waiting line): not kept.
    for kept in (servers.memories, servers.fragments):
        assert all(m.hits for name, m in kept.items() if name in ("A", "B"))


def test_after_an_acceptance_the_next_page_and_poll_on_the_other_server_show_it(
    servers, couple, alice_client, bob_client
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    warm(servers, alice_client, bob_client)
    etag = servers.get("B", alice_client, "/agreement/")["ETag"]

    answered = servers.post(
        "A",
        bob_client,
        reverse("agreements:accept", args=[rule.pk]),
        {"version": rule.pending_version_id},
    )
    assert answered.status_code == 200

    assert (
        card_state(servers.get("B", alice_client, "/agreement/").content.decode(), rule) == "active"
    )
    poll = servers.get(
        "B", alice_client, reverse("agreements:poll"), if_none_match=etag, hx_request="true"
    )
    assert poll.status_code == 200
    assert card_state(poll.content.decode(), rule) == "active"
    assert (
        card_state(servers.get("A", alice_client, "/agreement/").content.decode(), rule) == "active"
    )


def test_after_a_withdrawal_the_next_request_on_either_server_shows_the_rule_resting(
    servers, couple, alice_client, bob_client
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    for seat in couple:
        consent.accept(partner=seat, rule=fresh(rule), version_id=fresh(rule).pending_version_id)
    warm(servers, alice_client, bob_client)
    assert (
        card_state(servers.get("A", bob_client, "/agreement/").content.decode(), rule) == "active"
    )

    withdrawn = servers.post(
        "B", alice_client, reverse("agreements:withdraw", args=[rule.pk]), {"note": ""}
    )
    assert withdrawn.status_code == 200

    for name in ("A", "B"):
        html = servers.get(name, bob_client, "/agreement/").content.decode()
        assert card_state(html, rule) == "paused", name
        assert (
            "Withdraw consent" not in html.split(f'id="rule-{rule.pk}"')[1].split("</article>")[0]
        )


def test_after_a_therapist_access_ends_the_next_request_shows_it_on_both_servers(
    servers, couple, dana_2fa, alice_client
):
    alice, _ = couple
    access = therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    dana = client_for(dana_2fa)
    couple_page = reverse("therapist:couple", args=[agreement_of(alice).pk])
    for name in ("A", "B"):
        assert servers.get(name, dana, couple_page).status_code == 200
        assert (
            "therapist-access-note"
            in servers.get(name, alice_client, "/agreement/").content.decode()
        )

    with servers.on("A"):
        therapy.end_access(access_id=access.pk, partner=alice)

    for name in ("A", "B"):
        assert servers.get(name, dana, couple_page).status_code == 404, name
        assert (
            "therapist-access-note"
            not in servers.get(name, alice_client, "/agreement/").content.decode()
        )


def test_a_therapists_new_visit_shows_as_last_viewed_on_the_next_page_on_both_servers(
    servers, couple, dana_2fa, alice_client
):
    alice, _ = couple
    access = therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    TherapistAccess.objects.filter(pk=access.pk).update(last_viewed_at=None)
    for name in ("A", "B"):
        for _ in range(2):
            page = servers.get(name, alice_client, "/agreement/").content.decode()
        assert "last viewed: never" in page, name

    dana = client_for(dana_2fa)
    couple_page = reverse("therapist:couple", args=[agreement_of(alice).pk])
    assert servers.get("A", dana, couple_page).status_code == 200
    viewed = TherapistAccess.objects.get(pk=access.pk).last_viewed_at
    assert viewed is not None

    shown = f"last viewed: {date_format(localtime(viewed), 'j F Y, H:i')}"
    for name in ("A", "B"):
        page = servers.get(name, alice_client, "/agreement/").content.decode()
        assert shown in page and "last viewed: never" not in page, name


def test_a_comment_and_a_rename_show_at_once_though_the_page_was_read_before(
    servers, couple, dana_2fa, alice_client, bob_client
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    therapist_review(couple, dana_2fa, [rule])
    consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id, note="Soon.")
    warm(servers, alice_client, bob_client)
    assert "Bob: not yet" in servers.get("B", alice_client, "/agreement/").content.decode()

    with servers.on("A"):
        therapy.add_comment(
            agreement=agreement_of(alice), rule=rule, partner=bob, text="A fresh reply from Bob."
        )
    assert (
        "A fresh reply from Bob." in servers.get("B", alice_client, "/agreement/").content.decode()
    )

    # A new name writes no event, so it does not move the revision: the partners' names are in
    # the key of what a worker keeps (the card's answers carry them).
    bob.user.display_name = "Robert"
    bob.user.save(update_fields=["display_name"])
    for name in ("A", "B"):
        page = servers.get(name, alice_client, "/agreement/").content.decode()
        assert "Robert: not yet" in page and "Bob: not yet" not in page, name


def test_the_blind_answer_holds_when_both_partners_pages_come_from_one_worker_memory(
    servers, couple, alice_client, bob_client
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)

    def card_of(client, name: str) -> str:
        html = servers.get(name, client, "/agreement/").content.decode()
        return html.split(f'id="rule-{rule.pk}"')[1].split("</article>")[0]

    # Alice's page first, so that Bob's is built from the rows her request left in memory A.
    mine = card_of(alice_client, "A")
    assert "You: accepted" in mine
    hits = servers.memories["A"].hits
    bobs = card_of(bob_client, "A")
    assert servers.memories["A"].hits > hits  # the very rows that hold her acceptance
    assert without_tokens(card_of(bob_client, "A")) == without_tokens(bobs)  # kept whole, alike
    assert "Alice: accepted" not in bobs
    assert "Waiting for you" in bobs

    # Bob says not yet: now he has answered, he sees her acceptance, from the same memory.
    with servers.on("A"):
        consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id, note="Soon.")
    assert "Alice: accepted" in card_of(bob_client, "A")


def without_tokens(html: str) -> str:
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", html)  # masked CSRF tokens differ


def client_section(html: str, seat) -> str:
    start = html.index(f'data-client="{agreement_of(seat).pk}"')
    return html[start : html.index("</section>", start)]


def test_the_therapist_home_on_either_server_shows_the_truth_after_every_change(
    servers, couple, other_couple, dana_2fa, monkeypatch
):
    monkeypatch.setattr(therapy, "VISIT_LENGTH", timedelta(0))  # every opening is a new visit
    alice, bob = couple
    carol, _ = other_couple
    ours = grant_therapist(couple, dana_2fa)
    theirs = grant_therapist(other_couple, dana_2fa)
    dana = client_for(dana_2fa)
    home = reverse("therapist:home")
    rule = rules_of(alice)[0]
    for seat in couple:
        servers.get("A", dana, reverse("therapist:couple", args=[agreement_of(seat).pk]))

    def next_home() -> list[str]:
        """Both servers hold every section of the home as it was before the change; the very
        next request on each shows what a server that never saw the home shows."""
        truth = without_tokens(servers.afresh(dana, home).content.decode())
        pages = []
        for name in ("A", "B"):
            kept = servers.sections[name]
            hits = kept.hits
            page = without_tokens(servers.get(name, dana, home).content.decode())
            assert page == truth, name
            assert kept.hits > hits or not kept._entries, name  # the unchanged came from memory
            pages.append(page)
        return pages

    def settled() -> None:
        for name in ("A", "B"):
            servers.get(name, dana, home)
            servers.get(name, dana, home)
            assert servers.sections[name]._entries

    settled()
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    for page in next_home():
        assert "<strong>1 update</strong> since your last visit" in client_section(page, alice)
        assert page.index(client_section(page, alice)) < page.index(client_section(page, carol))

    settled()
    consent.accept(partner=bob, rule=fresh(rule), version_id=fresh(rule).pending_version_id)
    consent.withdraw(partner=bob, rule=fresh(rule))
    for page in next_home():
        assert "· 1 paused" in client_section(page, alice)
        assert re.search(r"<strong>[2-9] updates</strong>", client_section(page, alice))

    settled()
    servers.get("A", dana, reverse("therapist:couple", args=[agreement_of(alice).pk]))
    for page in next_home():
        assert "Nothing new since your last visit" in client_section(page, alice)

    settled()
    bob.user.display_name = "Robert"  # writes no event: the names are in the key
    bob.user.save(update_fields=["display_name"])
    for page in next_home():
        assert "Alice &amp; Robert" in client_section(page, alice)

    settled()
    with servers.on("B"):
        therapy.narrow_scope(partner=alice, access_id=ours.pk)
    for page in next_home():
        assert "they share <strong>the rules</strong>" in client_section(page, alice)
        assert "Timeline" not in client_section(page, alice)

    settled()
    newcomers = link(make_user("erin@example.com", "Erin"), make_user("finn@example.com", "Finn"))
    grant_therapist(newcomers, dana_2fa)
    for page in next_home():
        assert page.count('class="card client"') == 3
        assert page.index(client_section(page, newcomers[0])) < page.index(
            client_section(page, alice)
        )

    settled()
    therapy.end_access(access_id=theirs.pk, partner=carol)
    for page in next_home():
        assert page.count('class="card client"') == 2
        assert f'data-client="{agreement_of(carol).pk}"' not in page


def stored_values(backend) -> list[bytes]:
    """Everything the cache backend holds, as the bytes it stores."""
    if hasattr(backend, "_cache") and isinstance(backend._cache, dict):  # LocMemCache
        return list(backend._cache.values())
    raise AssertionError(f"no way to read {type(backend).__name__}'s values")


PRIVATE = (
    "Equals, with room for both voices",  # a proposed change's wording
    "out loud and without blame",
    "I'd like us to say them out loud.",  # the note sent with it
    "I want to talk about this one again.",  # a withdrawal's note
    "Not in this form.",  # a decline's note
    "Phones away at dinner",  # an archived rule's title
)


def test_nothing_is_kept_from_inside_a_transaction_that_may_still_roll_back(
    servers, couple, alice_client
):
    rule = rules_of(couple[0])[0]
    with servers.on("A"), transaction.atomic():
        consent.accept(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
        assert "You: accepted" in alice_client.get("/agreement/").content.decode()
        transaction.set_rollback(True)
    # The same revision number again, with other rows behind it: read afresh, never the page
    # of the change that was rolled back.
    consent.not_yet(partner=couple[0], rule=rule, version_id=rule.pending_version_id, note="Hm.")
    page = servers.get("A", alice_client, "/agreement/").content.decode()
    assert "You: accepted" not in page
    assert "You said not yet" in page


def test_no_private_words_reach_the_shared_cache_in_the_clear(
    couple, dana_2fa, alice_client, bob_client
):
    alice, bob = couple
    cache.clear()
    memo.client_sections.clear()
    rules = agreement_in_every_state(*couple)
    therapist_review(couple, dana_2fa, [rules["in_force"]])
    therapy.add_comment(
        agreement=agreement_of(alice),
        rule=None,
        partner=bob,
        text="Our private reply to the therapist.",
    )
    dana = client_for(dana_2fa)
    agreement = agreement_of(alice)
    pages = [
        (alice_client, reverse("agreements:agreement")),
        (bob_client, reverse("agreements:agreement")),
        (alice_client, reverse("agreements:print")),
        (alice_client, reverse("agreements:timeline")),
        (alice_client, reverse("agreements:history", args=[rules["change_proposed"].pk])),
        (dana, reverse("therapist:home")),
        (dana, reverse("therapist:couple", args=[agreement.pk])),
        (dana, reverse("therapist:timeline", args=[agreement.pk])),
    ]
    for client, path in pages:
        assert client.get(path).status_code == 200, path
    alice_client.get(reverse("agreements:poll"), headers={"hx-request": "true"})
    accepted = bob_client.post(
        reverse("agreements:accept", args=[rules["waiting_for_b"].pk]),
        {"version": rules["waiting_for_b"].pending_version_id},
        headers={"hx-request": "true"},
    )
    assert accepted.status_code == 200

    values = stored_values(caches["default"])
    assert values, "the pages stored nothing in the cache: the scan proves nothing"
    # The therapist's home keeps each couple's section (names, counts) in the worker's memory.
    assert memo.client_sections._entries
    words = PRIVATE + ("Our private reply to the therapist.", 'data-client="', "rules in force")
    for raw in values:
        as_text = raw.decode("latin-1")
        with suppress(Exception):  # not every value is a pickle
            as_text += repr(pickle.loads(raw))  # noqa: S301 - our own cache's values
        for word in words:
            assert word not in as_text, f"{word!r} is in the shared cache"


def test_a_page_from_kept_fragments_is_the_page_rendered_afresh_with_a_working_csrf_token(
    couple, alice, bob, monkeypatch
):
    rules = agreement_in_every_state(*couple)

    def same(html: str) -> str:
        return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", html)  # masked CSRF tokens differ

    for user in (alice, bob):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.get("/agreement/")
        kept = client.get("/agreement/").content.decode()
        with monkeypatch.context() as patch:
            patch.setattr(agreement_pages, "live_chunks", lambda context: None)
            patch.setattr(agreement_pages, "kept_page", lambda *args: args[-1]({}))
            afresh = client.get("/agreement/").content.decode()
        assert same(kept) == same(afresh)
        assert "csrf-" not in kept

    # The token in a kept page is this session's: Bob accepts with it.
    rule = rules["waiting_for_b"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', kept).group(1)
    answered = client.post(
        reverse("agreements:accept", args=[rule.pk]),
        {"version": rule.pending_version_id, "csrfmiddlewaretoken": token},
    )
    assert answered.status_code == 302
    assert fresh(rule).state == Rule.State.ACTIVE


def test_a_page_with_a_message_is_rendered_for_it_and_the_message_shown_once(couple, alice_client):
    for _ in range(2):
        alice_client.get("/agreement/")
    response = alice_client.post(
        reverse("agreements:new_rule"), {"title": "Slow mornings", "text": "We take our time."}
    )
    assert response.status_code == 302
    page = alice_client.get(response["Location"]).content.decode()
    assert "Your proposal was added" in page and "Slow mornings" in page
    assert "Your proposal was added" not in alice_client.get("/agreement/").content.decode()


def test_the_printable_page_kept_whole_drops_a_withdrawn_rule_on_both_servers(
    servers, couple, alice_client, bob_client
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    title = fresh(rule).current_version.title
    for name in ("A", "B"):
        for _ in range(2):
            assert title in servers.get(name, alice_client, "/agreement/print/").content.decode()
    assert servers.prints["A"].hits and servers.prints["B"].hits

    with servers.on("B"):
        consent.withdraw(partner=bob, rule=fresh(rule), note="")
    for name in ("A", "B"):
        page = servers.get(name, alice_client, "/agreement/print/").content.decode()
        assert title not in page and "is resting" in page, name
