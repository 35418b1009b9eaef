"""Fresh by construction: after every kind of change, every page shows what a fresh server
shows, on the very next request.

Nothing is kept between requests but the poll's ETag in the partner's open page, so the one
promise to check is that a page loaded before a change ("warm": the same client, as on the same
server) and loaded again after it equals a fresh render for a new client (another server, a
new session), and that whenever a viewer's live region changed, the ETag their open page holds
no longer answers 304. Every service below runs through its real function, on a couple with an
agreement in every state and a therapist who commented; every page of the URL matrix is checked
for each of them."""

import pickle
import re
from contextlib import suppress
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agreements import consent, people, therapy
from agreements.models import Rule
from agreements.stories import agreement_in_every_state, therapist_review
from tests.conftest import agreement_of, client_for, fresh, reauthenticate

CSRF = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def normal(html: str) -> str:
    return CSRF.sub(r"\1…", html)


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings) -> None:
    # Each page is opened by new sessions that re-authenticate, many within a minute; the limits
    # themselves are tested elsewhere.
    settings.ACCOUNT_RATE_LIMITS = False


class World:
    def __init__(self, couple, therapist):
        self.alice, self.bob = couple
        self.therapist = therapist
        self.rules = agreement_in_every_state(self.alice, self.bob)
        self.access = therapist_review(couple, therapist, list(self.rules.values())[:2])
        self.agreement = agreement_of(self.alice)

    def rule(self, state: str) -> Rule:
        return fresh(self.rules[state])

    def pages(self) -> dict[str, tuple[object, str]]:
        """Who looks, at what: the URL matrix."""
        agreement, rule = self.agreement.pk, self.rules["change_proposed"].pk
        partner = {
            "agreement": reverse("agreements:agreement"),
            "poll": reverse("agreements:poll"),
            "print": reverse("agreements:print"),
            "timeline": reverse("agreements:timeline"),
            "history": reverse("agreements:history", args=[rule]),
            "therapist access": reverse("agreements:therapist_access"),
        }
        therapist = {
            "therapist home": reverse("therapist:home"),
            "couple": reverse("therapist:couple", args=[agreement]),
            "therapist history": reverse("therapist:history", args=[agreement, rule]),
            "therapist timeline": reverse("therapist:timeline", args=[agreement]),
            "therapist print": reverse("therapist:print", args=[agreement]),
        }
        found = {}
        for who in (self.alice.user, self.bob.user):
            for name, path in partner.items():
                found[f"{who.display_name}: {name}"] = (who, path)
        for name, path in therapist.items():
            found[f"therapist: {name}"] = (self.therapist, path)
        return found


def _version(rule: Rule) -> int:
    return rule.pending_version_id


SERVICES = {
    "accept": lambda w: consent.accept(
        partner=w.alice, rule=w.rule("waiting_for_a"), version_id=_version(w.rule("waiting_for_a"))
    ),
    "not yet": lambda w: consent.not_yet(
        partner=w.bob,
        rule=w.rule("waiting_for_b"),
        version_id=_version(w.rule("waiting_for_b")),
        note="Sunday?",
    ),
    "decline": lambda w: consent.decline(
        partner=w.bob,
        rule=w.rule("waiting_for_both"),
        version_id=_version(w.rule("waiting_for_both")),
        note="No.",
    ),
    "take back": lambda w: consent.take_back(
        partner=w.bob,
        rule=w.rule("change_proposed"),
        version_id=_version(w.rule("change_proposed")),
    ),
    "propose a change": lambda w: consent.propose_change(
        partner=w.alice, rule=w.rule("in_force"), title="Ours", text="New words.", note="Try?"
    ),
    "propose a rule": lambda w: consent.propose_rule(
        partner=w.bob, agreement=w.agreement, title="Tea", text="Tea after.", note=""
    ),
    "withdraw": lambda w: consent.withdraw(partner=w.bob, rule=w.rule("in_force"), note="Stop."),
    "reopen": lambda w: consent.reopen(partner=w.alice, rule=w.rule("paused")),
    "archive": lambda w: consent.archive(partner=w.alice, rule=w.rule("declined")),
    "restore": lambda w: consent.restore(partner=w.bob, rule=w.rule("archived")),
    "a partner replies": lambda w: therapy.add_comment(
        agreement=w.agreement, partner=w.bob, text="Thanks.", rule=w.rule("in_force")
    ),
    "the therapist comments": lambda w: therapy.add_comment(
        agreement=w.agreement, therapist=w.therapist, text="Notice this.", rule=w.rule("paused")
    ),
    "the therapist suggests": lambda w: therapy.suggest_rule(
        therapist=w.therapist, agreement=w.agreement, title="Walk", text="A walk first."
    ),
    "the therapist's visit": lambda w: therapy.record_view(fresh_access(w)),
    "access narrowed": lambda w: therapy.narrow_scope(partner=w.alice, access_id=w.access.pk),
    "the history asked for again": lambda w: therapy.widen_scope(
        partner=w.bob, access_id=w.access.pk
    ),
    "the history kept back": lambda w: therapy.narrow_scope(partner=w.bob, access_id=w.access.pk),
    "the therapist labels a link": lambda w: therapy.label_client_link(
        therapist=w.therapist, link_id=w.access.client_link_id, label="The Tuesday couple"
    ),
    "a partner renames": lambda w: people.save_settings(
        user=w.bob.user, display_name="Robert", partner_update_emails=False
    ),
    "the therapist renames": lambda w: people.save_settings(
        user=w.therapist, display_name="Dr Dana", partner_update_emails=False
    ),
    "a partner moves to another time zone": lambda w: people.save_settings(
        user=w.bob.user,
        display_name=w.bob.user.display_name,
        partner_update_emails=True,
        time_zone="America/Los_Angeles",
    ),
    "the therapist moves to another time zone": lambda w: people.save_settings(
        user=w.therapist,
        display_name=w.therapist.display_name,
        partner_update_emails=True,
        time_zone="Asia/Tokyo",
    ),
    "pause everything": lambda w: consent.pause_everything(partner=w.bob, note="Let's talk."),
    "reopen all": lambda w: consent.reopen_all(partner=w.alice),
}


def due_for_review(w: World, days_ago: int = 32) -> Rule:
    """A rule both accepted `days_ago` with a review in a month: due now (lapsed past 44)."""
    then = timezone.now() - timedelta(days=days_ago)
    with mock.patch("django.utils.timezone.now", return_value=then):
        rule = consent.propose_rule(
            partner=w.alice,
            agreement=w.agreement,
            title="Looked at",
            text="We look at this again.",
            review_after="1m",
        )
        consent.accept(partner=w.bob, rule=rule, version_id=rule.pending_version_id)
    w.due = rule
    return rule


def _current(rule: Rule) -> int:
    return fresh(rule).current_version_id


SERVICES |= {
    "keep it (sealed)": lambda w: consent.keep(
        partner=w.alice, rule=w.due, version_id=_current(w.due)
    ),
    "keep it (both)": lambda w: consent.keep(partner=w.bob, rule=w.due, version_id=_current(w.due)),
    "let it rest": lambda w: consent.let_rest(
        partner=w.bob, rule=w.due, version_id=_current(w.due), note="Not now."
    ),
    "change it at review": lambda w: consent.propose_change(
        partner=w.alice, rule=w.due, title="Looked at", text="Other words.", review_after="3m"
    ),
    "a lapse recorded": lambda w: consent.record_lapse(rule_id=w.due.pk),
}
# What a service needs to have happened before the pages are first loaded.
BEFORE = {
    "reopen all": lambda w: consent.pause_everything(partner=w.alice, note="Stop, please."),
    # At the rules level: one partner asks to share the history (the other keeps it back).
    "the history asked for again": lambda w: therapy.narrow_scope(
        partner=w.alice, access_id=w.access.pk
    ),
    "the history kept back": lambda w: (
        therapy.narrow_scope(partner=w.alice, access_id=w.access.pk),
        therapy.widen_scope(partner=w.alice, access_id=w.access.pk),
    ),
    "keep it (sealed)": due_for_review,
    "keep it (both)": lambda w: consent.keep(
        partner=w.alice, rule=due_for_review(w), version_id=_current(w.due)
    ),
    "let it rest": due_for_review,
    "change it at review": due_for_review,
    "a lapse recorded": lambda w: due_for_review(w, days_ago=50),
}


AT_THE_RULES_LEVEL = {"the history asked for again", "the history kept back"}


def fresh_access(w: World):
    w.access.refresh_from_db()
    return w.access


def signed_in(who) -> Client:
    """A new session (as on another server), recently re-authenticated like a person who just
    opened "Therapist access"."""
    client = client_for(who)
    reauthenticate(client, who)
    return client


def load(client: Client, path: str, etag: str = ""):
    headers = {"hx-request": "true"} if "/poll/" in path else {}
    if etag:
        headers["if-none-match"] = etag
    return client.get(path, headers=headers)


@pytest.mark.parametrize("service", SERVICES)
def test_after_each_change_every_warm_page_equals_a_fresh_one(service, couple, dana_2fa):
    world = World(couple, dana_2fa)
    BEFORE.get(service, lambda w: None)(world)
    pages = world.pages()
    warm = {who: signed_in(who) for who in {who for who, _ in pages.values()}}
    before = {}
    for name, (who, path) in pages.items():
        response = load(warm[who], path)
        beyond_the_rules = name in ("therapist: therapist history", "therapist: therapist timeline")
        if service in AT_THE_RULES_LEVEL and beyond_the_rules:
            assert response.status_code == 404, name
        else:
            assert response.status_code == 200, name
        before[name] = (normal(response.content.decode()), response.get("ETag", ""))

    SERVICES[service](world)

    differences = []
    for name, (who, path) in pages.items():
        after = load(warm[who], path)
        brand_new = load(signed_in(who), path)
        # A page can close (narrowed access: the history is a 404): for both alike.
        assert after.status_code == brand_new.status_code, name
        if normal(after.content.decode()) != normal(brand_new.content.decode()):
            differences.append(f"{name}: the warm page differs from a fresh one")
        old_html, old_etag = before[name]
        # What a partner's open page shows changed: the ETag it holds must not answer 304.
        changed = name.endswith(": poll") and old_html != normal(brand_new.content.decode())
        if changed and load(warm[who], path, etag=old_etag).status_code == 304:
            differences.append(f"{name}: the open page's ETag still answers 304")
    assert differences == []


def test_a_therapist_renamed_in_settings_shows_on_the_partners_next_request(couple, dana_2fa):
    world = World(couple, dana_2fa)
    alice = client_for(world.alice.user)
    page = alice.get(reverse("agreements:agreement"))
    assert dana_2fa.display_name in page.content.decode()
    etag = page["ETag"]
    people.save_settings(user=dana_2fa, display_name="Dr Dana Q", partner_update_emails=False)
    assert "Dr Dana Q" in alice.get(reverse("agreements:agreement")).content.decode()
    poll = load(alice, reverse("agreements:poll"), etag=etag)
    assert poll.status_code == 200 and "Dr Dana Q" in poll.content.decode()


# -- nothing private in the shared cache ----------------------------------------------------------
PRIVATE = (
    "Equals, with room for both voices",  # a proposed change's wording
    "out loud and without blame",
    "I'd like us to say them out loud.",  # the note sent with it
    "I want to talk about this one again.",  # a withdrawal's note
    "Not in this form.",  # a decline's note
    "Phones away at dinner",  # an archived rule's title
    "Our private reply to the therapist.",
)


def stored_values(backend) -> list[bytes]:
    """Everything the cache backend holds, as the bytes it stores."""
    if hasattr(backend, "_cache") and isinstance(backend._cache, dict):  # LocMemCache
        return list(backend._cache.values())
    raise AssertionError(f"no way to read {type(backend).__name__}'s values")


def test_no_private_words_reach_the_shared_cache_in_the_clear(couple, dana_2fa):
    """The shared cache holds sessions, rate limits and presence: after every page and an
    action, none of the couple's words are in it."""
    alice, bob = couple
    cache.clear()
    rules = agreement_in_every_state(*couple)
    therapist_review(couple, dana_2fa, [rules["in_force"]])
    therapy.add_comment(
        agreement=agreement_of(alice), partner=bob, text="Our private reply to the therapist."
    )
    world_pages = [
        (alice.user, reverse("agreements:agreement")),
        (bob.user, reverse("agreements:agreement")),
        (alice.user, reverse("agreements:print")),
        (alice.user, reverse("agreements:timeline")),
        (alice.user, reverse("agreements:history", args=[rules["change_proposed"].pk])),
        (dana_2fa, reverse("therapist:home")),
        (dana_2fa, reverse("therapist:couple", args=[agreement_of(alice).pk])),
        (dana_2fa, reverse("therapist:timeline", args=[agreement_of(alice).pk])),
    ]
    clients = {who: client_for(who) for who in {who for who, _ in world_pages}}
    for who, path in world_pages:
        assert clients[who].get(path).status_code == 200, path
    load(clients[alice.user], reverse("agreements:poll"))
    accepted = clients[bob.user].post(
        reverse("agreements:accept", args=[rules["waiting_for_b"].pk]),
        {"version": rules["waiting_for_b"].pending_version_id},
        headers={"hx-request": "true"},
    )
    assert accepted.status_code == 200

    values = stored_values(caches["default"])
    assert values, "the pages stored nothing in the cache: the scan proves nothing"
    for raw in values:
        as_text = raw.decode("latin-1")
        with suppress(Exception):  # not every value is a pickle
            as_text += repr(pickle.loads(raw))  # noqa: S301 - our own cache's values
        for word in PRIVATE:
            assert word not in as_text, f"{word!r} is in the shared cache"
