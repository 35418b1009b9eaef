"""What the check-in screens keep (issue 17): a couple's check-ins with their decrypted answers,
and each partner's rendered page, in the worker's own memory by the couple's check-in revision
(checkins/pages.py). Two app servers are two memories over one database and one cache: after every
kind of change on one, the very next request on the other shows the new truth; a sealed answer
stays sealed on the kept path; and no answer reaches the shared cache."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse

from agreements import therapy
from agreements.pages import memo
from agreements.stories import therapist_review
from checkins import models as checkin_models
from checkins import pages as checkin_pages
from checkins import services
from checkins.models import CheckIn
from tests.conftest import agreement_of, client_for, rules_of
from tests.test_perf_cache import Servers, stored_values

# Kept only when read outside a transaction (pages/memo.py): each request here commits.
pytestmark = pytest.mark.django_db(transaction=True)

SEALED = "The warmth of your hands on my back"  # Alice's answer, sealed
BOBS = "Slower, and more kissing first"  # Bob's
REPLY = "Thank you for telling me so gently"
TOPIC = "Saturday by the lake"


@pytest.fixture
def servers(monkeypatch) -> Servers:
    return Servers(monkeypatch)


def checkin_path(checkin: CheckIn, view: str = "checkin") -> str:
    return reverse(f"checkins:{view}", args=[checkin.pk])


def html(servers: Servers, name: str, client, path: str, **headers) -> str:
    response = servers.get(name, client, path, **headers)
    assert response.status_code == 200, (name, path, response.status_code)
    return response.content.decode()


def warm(servers: Servers, checkin: CheckIn | None, *clients) -> None:
    """Every client's list (and check-in) on both servers, twice: both memories hold the rows."""
    paths = [reverse("checkins:list")] + ([checkin_path(checkin)] if checkin else [])
    for name in ("A", "B"):
        hits = servers.checkin_pages[name].hits
        for client in clients:
            for path in paths:
                for _ in range(2):
                    html(servers, name, client, path)
        assert servers.checkin_pages[name].hits > hits, name


def act(servers: Servers, client, view: str, checkin: CheckIn, data: dict | None = None):
    response = servers.post("A", client, checkin_path(checkin, view), data or {})
    assert response.status_code == 200, (view, response.status_code)
    return response


def open_checkin(servers: Servers, alice_client) -> CheckIn:
    servers.post("A", alice_client, reverse("checkins:start"), {"topic": TOPIC})
    return CheckIn.objects.order_by("-pk").first()


def test_every_change_to_a_check_in_shows_at_once_on_the_other_server(
    servers, couple, alice_client, bob_client
):
    warm(servers, None, alice_client, bob_client)
    assert "A check-in is open" not in html(servers, "B", bob_client, reverse("checkins:list"))

    checkin = open_checkin(servers, alice_client)
    assert f"A check-in is open: {TOPIC}" in html(
        servers, "B", bob_client, reverse("checkins:list")
    )

    warm(servers, checkin, alice_client, bob_client)
    act(servers, alice_client, "seal", checkin, {"emotion": SEALED})
    bobs = html(servers, "B", bob_client, checkin_path(checkin))
    assert "Alice: <strong>sealed</strong>" in bobs
    assert SEALED not in bobs

    warm(servers, checkin, alice_client, bob_client)
    act(servers, alice_client, "reopen", checkin)
    assert "Alice: <strong>not sealed yet</strong>" in html(
        servers, "B", bob_client, checkin_path(checkin)
    )

    act(servers, alice_client, "seal", checkin, {"emotion": SEALED})
    warm(servers, checkin, alice_client, bob_client)
    act(servers, bob_client, "seal", checkin, {"want": BOBS})
    alices = html(servers, "B", alice_client, checkin_path(checkin))
    assert 'data-revealed="true"' in alices and BOBS in alices
    assert SEALED in html(servers, "B", bob_client, checkin_path(checkin))
    assert "status-revealed" in html(servers, "B", alice_client, reverse("checkins:list"))

    warm(servers, checkin, alice_client, bob_client)
    act(servers, bob_client, "reply", checkin, {"text": REPLY})
    assert f"replied: {REPLY}" in html(servers, "B", alice_client, checkin_path(checkin))

    warm(servers, checkin, alice_client, bob_client)
    act(servers, alice_client, "share", checkin, {"share": "yes"})
    assert "Alice: shares it" in html(servers, "B", bob_client, checkin_path(checkin))


def test_letting_go_and_deleting_ones_answer_show_at_once_on_the_other_server(
    servers, couple, alice_client, bob_client
):
    checkin = open_checkin(servers, alice_client)
    act(servers, alice_client, "seal", checkin, {"emotion": SEALED})
    warm(servers, checkin, alice_client, bob_client)

    act(servers, bob_client, "let_go", checkin)
    alices = html(servers, "B", alice_client, checkin_path(checkin))
    assert "Let go: nothing was revealed" in alices and SEALED in alices
    assert "status-let-go" in html(servers, "B", bob_client, reverse("checkins:list"))
    assert SEALED not in html(servers, "B", bob_client, checkin_path(checkin))

    warm(servers, checkin, alice_client, bob_client)
    act(servers, alice_client, "delete_answer", checkin)
    alices = html(servers, "B", alice_client, checkin_path(checkin))
    assert "You have no answer kept here." in alices and SEALED not in alices


def test_a_check_in_that_went_stale_shows_closed_though_its_rows_were_kept(
    servers, couple, alice_client, bob_client, monkeypatch
):
    checkin = open_checkin(servers, alice_client)
    act(servers, alice_client, "seal", checkin, {"emotion": SEALED})
    warm(servers, checkin, alice_client, bob_client)

    # Fourteen days pass without a write: nothing moved the revision.
    monkeypatch.setattr(checkin_models, "STALE_AFTER", timedelta(0))
    monkeypatch.setattr(services, "STALE_AFTER", timedelta(0))
    for name in ("B", "A"):
        bobs = html(servers, name, bob_client, checkin_path(checkin))
        assert "Closed: nothing was revealed" in bobs and "Nobody touched" in bobs, name
        assert SEALED not in bobs
        assert "A check-in is open" not in html(servers, name, bob_client, reverse("checkins:list"))
    assert CheckIn.objects.get(pk=checkin.pk).closed_at is not None


def test_a_rename_and_a_therapists_invitation_show_at_once_on_the_lists(
    servers, couple, dana_2fa, alice_client, bob_client
):
    alice, bob = couple
    therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    warm(servers, None, alice_client, bob_client)

    with servers.on("A"):
        therapy.invite_to_checkin(
            therapist=dana_2fa, agreement=agreement_of(alice), prompt="How was touch this week?"
        )
    assert "How was touch this week?" in html(servers, "B", alice_client, reverse("checkins:list"))

    warm(servers, None, alice_client, bob_client)
    bob.user.display_name = "Robert"
    bob.user.save(update_fields=["display_name"])
    checkin = open_checkin(servers, alice_client)
    warm(servers, checkin, alice_client)
    bob.user.display_name = "Bobby"
    bob.user.save(update_fields=["display_name"])
    for name in ("A", "B"):
        page = html(servers, name, alice_client, checkin_path(checkin))
        assert "Bobby: <strong>not started</strong>" in page and "Robert" not in page, name


def test_a_sealed_answer_stays_sealed_when_the_other_partners_page_comes_from_the_same_memory(
    servers, couple, alice_client, bob_client
):
    checkin = open_checkin(servers, alice_client)
    act(servers, alice_client, "seal", checkin, {"emotion": SEALED, "overall": "5"})

    # Alice's pages first: the rows they leave in memory A hold her sealed words.
    assert SEALED in html(servers, "A", alice_client, checkin_path(checkin))
    html(servers, "A", alice_client, reverse("checkins:list"))
    rows = servers.checkin_rows["A"]
    hits = rows.hits
    paths = [
        (checkin_path(checkin), {}),
        (checkin_path(checkin), {}),  # the second from Bob's own kept page
        (reverse("checkins:list"), {}),
        (checkin_path(checkin, "poll"), {"hx_request": "true"}),
    ]
    for path, headers in paths:
        bobs = html(servers, "A", bob_client, path, **headers)
        assert SEALED not in bobs and "data-overall" not in bobs, path
    assert rows.hits >= hits + len(paths)  # the very rows that hold her answer
    assert "Alice: <strong>sealed</strong>" in html(servers, "A", bob_client, checkin_path(checkin))

    act(servers, bob_client, "seal", checkin, {"want": BOBS})
    assert SEALED in html(servers, "A", bob_client, checkin_path(checkin))


def test_no_check_in_answer_reaches_the_shared_cache(
    servers, couple, dana_2fa, alice_client, bob_client
):
    alice, _ = couple
    cache.clear()
    therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    checkin = open_checkin(servers, alice_client)
    act(servers, alice_client, "seal", checkin, {"sensation": SEALED, "overall": "2"})
    act(servers, bob_client, "seal", checkin, {"want": BOBS, "wanted_to_stop": "yes"})
    act(servers, bob_client, "reply", checkin, {"text": REPLY})
    for client in (alice_client, bob_client):
        act(servers, client, "share", checkin, {"share": "yes"})
    sealed = open_checkin(servers, alice_client)
    act(servers, alice_client, "seal", sealed, {"emotion": "Only mine, still sealed"})
    dana = client_for(dana_2fa)
    agreement = agreement_of(alice)
    pages = [
        (alice_client, reverse("checkins:list"), {}),
        (bob_client, reverse("checkins:list"), {}),
        (alice_client, checkin_path(checkin), {}),
        (bob_client, checkin_path(checkin), {}),
        (alice_client, checkin_path(sealed), {}),
        (bob_client, checkin_path(sealed), {}),
        (bob_client, checkin_path(sealed, "poll"), {"hx_request": "true"}),
        (dana, reverse("checkins:therapist_list", args=[agreement.pk]), {}),
        (dana, reverse("checkins:therapist_checkin", args=[agreement.pk, checkin.pk]), {}),
    ]
    for client, path, headers in pages:
        for name in ("A", "B"):
            assert servers.get(name, client, path, **headers).status_code == 200, path

    values = stored_values(caches["default"])
    assert values, "the pages stored nothing in the cache: the scan proves nothing"
    for raw in values:
        as_text = repr(raw) + raw.decode("latin-1") if isinstance(raw, bytes) else repr(raw)
        for word in (SEALED, BOBS, REPLY, TOPIC, "Only mine, still sealed"):
            assert word not in as_text, f"{word!r} is in the shared cache"


def test_a_check_in_from_kept_fragments_is_the_page_rendered_afresh_with_a_working_csrf_token(
    couple, alice, bob, monkeypatch
):
    checkin, _ = services.start(partner=couple[0], topic=TOPIC)
    services.seal(partner=couple[0], checkin=checkin, emotion=SEALED)

    def same(page: str) -> str:
        return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", page)  # masked CSRF tokens differ

    for user in (alice, bob):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        for path in (checkin_path(checkin), reverse("checkins:list")):
            client.get(path)
            hits = memo.checkin_pages.hits
            kept = client.get(path).content.decode()
            assert memo.checkin_pages.hits == hits + 1
            with monkeypatch.context() as patch:
                patch.setattr(checkin_pages, "kept_html", lambda key, template, context: None)
                patch.setattr(memo, "whole_page", lambda request, store, key, render: render({}))
                afresh = client.get(path).content.decode()
            assert same(kept) == same(afresh), (user, path)
            assert "csrf-" not in kept

    # The token in Bob's kept page (his answer form) is his session's: he seals with it.
    kept = client.get(checkin_path(checkin)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', kept).group(1)
    sealed = client.post(
        checkin_path(checkin, "seal"), {"want": BOBS, "csrfmiddlewaretoken": token}
    )
    assert sealed.status_code == 302
    assert CheckIn.objects.get(pk=checkin.pk).is_revealed


def test_the_answer_to_an_action_shows_what_the_action_did_though_the_check_in_was_kept(
    servers, couple, alice_client, bob_client
):
    # The seat read with the user at the start of the request holds the check-in revision from
    # before the action: the answer must be read afresh, not from the rows kept for that one.
    checkin = open_checkin(servers, alice_client)
    warm(servers, checkin, alice_client, bob_client)
    sealed = act(servers, alice_client, "seal", checkin, {"emotion": SEALED}).content.decode()
    assert "Your answer is sealed" in sealed
    assert checkin_path(checkin, "seal") not in sealed  # no answer form any more
