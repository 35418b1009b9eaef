"""The check-in screens are fresh by construction (issue 21): each request reads what it shows from
the database, in a constant number of queries, and writes nothing. So the very next request after
any change shows it; a sealed answer stays sealed; the clock alone closes a check-in on every
screen; and no answer reaches the shared cache."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agreements import therapy
from agreements.stories import grant_therapist, therapist_review
from checkins import services
from checkins.models import STALE_AFTER, CheckIn
from intimacy import privacy
from tests.conftest import agreement_of, client_for, rules_of

pytestmark = pytest.mark.django_db

SEALED = "The warmth of your hands on my back"  # Alice's answer, sealed
BOBS = "Slower, and more kissing first"  # Bob's
REPLY = "Thank you for telling me so gently"
TOPIC = "Saturday by the lake"


def checkin_path(checkin: CheckIn, view: str = "checkin") -> str:
    return reverse(f"checkins:{view}", args=[checkin.pk])


def html(client, path: str, **headers) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def act(client, view: str, checkin: CheckIn, data: dict | None = None):
    response = client.post(checkin_path(checkin, view), data or {}, headers={"hx-request": "true"})
    assert response.status_code == 200, (view, response.status_code)
    return response


def open_checkin(alice_client) -> CheckIn:
    alice_client.post(reverse("checkins:start"), {"topic": TOPIC})
    return CheckIn.objects.order_by("-pk").first()


def test_every_change_to_a_check_in_shows_on_the_other_partners_next_request(
    couple, alice_client, bob_client, dana_2fa
):
    assert "A check-in is open" not in html(bob_client, reverse("checkins:list"))

    checkin = open_checkin(alice_client)
    assert f'A check-in is open: <span dir="auto">{TOPIC}</span>' in html(
        bob_client, reverse("checkins:list")
    )

    act(alice_client, "seal", checkin, {"emotion": SEALED})
    bobs = html(bob_client, checkin_path(checkin))
    assert "<bdi>Alice</bdi>: <strong>sealed</strong>" in bobs
    assert SEALED not in bobs

    act(alice_client, "reopen", checkin)
    assert "<bdi>Alice</bdi>: <strong>not sealed yet</strong>" in html(
        bob_client, checkin_path(checkin)
    )

    act(alice_client, "seal", checkin, {"emotion": SEALED})
    act(bob_client, "seal", checkin, {"want": BOBS})
    alices = html(alice_client, checkin_path(checkin))
    assert 'data-revealed="true"' in alices and BOBS in alices
    assert SEALED in html(bob_client, checkin_path(checkin))
    assert "status-revealed" in html(alice_client, reverse("checkins:list"))

    act(bob_client, "reply", checkin, {"text": REPLY})
    assert f'replied: <span dir="auto">{REPLY}</span>' in html(alice_client, checkin_path(checkin))

    assert "Share with our therapist" not in html(alice_client, checkin_path(checkin))
    grant_therapist(couple, dana_2fa)  # sharing is offered only when a therapist has access
    assert "Share with our therapist" in html(alice_client, checkin_path(checkin))
    act(alice_client, "share", checkin, {"share": "yes"})
    assert '<span dir="auto">Alice</span>: shares it' in html(bob_client, checkin_path(checkin))


def test_letting_go_and_deleting_ones_answer_show_on_the_next_request(
    couple, alice_client, bob_client
):
    checkin = open_checkin(alice_client)
    act(alice_client, "seal", checkin, {"emotion": SEALED})

    act(bob_client, "let_go", checkin)
    alices = html(alice_client, checkin_path(checkin))
    assert "Let go: nothing was revealed" in alices and SEALED in alices
    assert "status-let-go" in html(bob_client, reverse("checkins:list"))
    assert SEALED not in html(bob_client, checkin_path(checkin))

    act(alice_client, "delete_answer", checkin)
    alices = html(alice_client, checkin_path(checkin))
    assert "You have no answer kept here." in alices and SEALED not in alices


def test_the_clock_alone_closes_a_check_in_on_every_screen_and_no_read_writes_it(
    couple, alice_client, bob_client, monkeypatch
):
    checkin = open_checkin(alice_client)
    act(alice_client, "seal", checkin, {"emotion": SEALED})
    assert f'data-checkin-waiting="{checkin.pk}"' in html(bob_client, reverse("home"))
    assert f'data-checkin-waiting="{checkin.pk}"' in html(
        bob_client, reverse("agreements:agreement")
    )

    later = timezone.now() + STALE_AFTER + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)  # no write: only the clock moved
    for client in (alice_client, bob_client):
        page = html(client, checkin_path(checkin))
        assert "Closed: nothing was revealed" in page and "Nobody touched" in page
        assert checkin_path(checkin, "seal") not in page
        listing = html(client, reverse("checkins:list"))
        assert "A check-in is open" not in listing and "Start a check-in" in listing
    assert SEALED not in html(bob_client, checkin_path(checkin))
    for path in (reverse("home"), reverse("agreements:agreement")):
        assert "data-checkin-waiting" not in html(bob_client, path), path
    assert privacy.export_data(couple[1].user)["couples"][0]["checkins"][0]["status"] == "closed"
    assert CheckIn.objects.get(pk=checkin.pk).closed_at is None  # shown closed, not written

    call_command("close_stale_checkins", stdout=StringIO())
    assert CheckIn.objects.get(pk=checkin.pk).closed_at == later


def test_a_new_check_in_can_start_once_the_open_one_went_stale(couple, alice_client, monkeypatch):
    stale = open_checkin(alice_client)
    later = timezone.now() + STALE_AFTER + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    fresh = open_checkin(alice_client)
    assert fresh.pk != stale.pk
    assert CheckIn.objects.get(pk=stale.pk).closed_at == later  # closed by the next write
    assert f'A check-in is open: <span dir="auto">{TOPIC}</span>' in html(
        alice_client, reverse("checkins:list")
    )


def test_a_rename_and_a_therapists_invitation_show_on_the_next_request(
    couple, dana_2fa, alice_client
):
    alice, bob = couple
    therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    html(alice_client, reverse("checkins:list"))
    therapy.invite_to_checkin(
        therapist=dana_2fa, agreement=agreement_of(alice), prompt="How was touch this week?"
    )
    assert "How was touch this week?" in html(alice_client, reverse("checkins:list"))

    checkin = open_checkin(alice_client)
    html(alice_client, checkin_path(checkin))
    bob.user.display_name = "Bobby"
    bob.user.save(update_fields=["display_name"])
    page = html(alice_client, checkin_path(checkin))
    assert "<bdi>Bobby</bdi>: <strong>not started</strong>" in page


def test_a_sealed_answer_stays_sealed_on_every_one_of_the_other_partners_screens(
    couple, alice_client, bob_client
):
    checkin = open_checkin(alice_client)
    act(alice_client, "seal", checkin, {"emotion": SEALED, "overall": "5"})
    assert SEALED in html(alice_client, checkin_path(checkin))
    for path, headers in [
        (checkin_path(checkin), {}),
        (reverse("checkins:list"), {}),
        (checkin_path(checkin, "poll"), {"hx_request": "true"}),
        (reverse("agreements:agreement"), {}),
    ]:
        bobs = html(bob_client, path, **headers)
        assert SEALED not in bobs and "data-overall" not in bobs, path
    assert "<bdi>Alice</bdi>: <strong>sealed</strong>" in html(bob_client, checkin_path(checkin))

    act(bob_client, "seal", checkin, {"want": BOBS})
    assert SEALED in html(bob_client, checkin_path(checkin))


def stored_values(backend) -> list[bytes]:
    """Everything the cache backend holds, as the bytes it stores."""
    if hasattr(backend, "_cache") and isinstance(backend._cache, dict):  # LocMemCache
        return list(backend._cache.values())
    raise AssertionError(f"no way to read {type(backend).__name__}'s values")


def test_no_check_in_answer_reaches_the_shared_cache(couple, dana_2fa, alice_client, bob_client):
    alice, _ = couple
    cache.clear()
    therapist_review(couple, dana_2fa, rules_of(alice)[:1])
    checkin = open_checkin(alice_client)
    act(alice_client, "seal", checkin, {"sensation": SEALED, "overall": "2"})
    act(bob_client, "seal", checkin, {"want": BOBS, "wanted_to_stop": "yes"})
    act(bob_client, "reply", checkin, {"text": REPLY})
    for client in (alice_client, bob_client):
        act(client, "share", checkin, {"share": "yes"})
    sealed = open_checkin(alice_client)
    act(alice_client, "seal", sealed, {"emotion": "Only mine, still sealed"})
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
        assert client.get(path, headers=headers).status_code == 200, path

    values = stored_values(caches["default"])
    assert values, "the pages stored nothing in the cache: the scan proves nothing"
    for raw in values:
        as_text = repr(raw) + raw.decode("latin-1") if isinstance(raw, bytes) else repr(raw)
        for word in (SEALED, BOBS, REPLY, TOPIC, "Only mine, still sealed"):
            assert word not in as_text, f"{word!r} is in the shared cache"


def test_a_check_in_page_carries_this_sessions_csrf_token_and_its_form_works(couple, alice, bob):
    checkin, _ = services.start(partner=couple[0], topic=TOPIC)
    services.seal(partner=couple[0], checkin=checkin, emotion=SEALED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    page = client.get(checkin_path(checkin)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    sealed = client.post(
        checkin_path(checkin, "seal"), {"want": BOBS, "csrfmiddlewaretoken": token}
    )
    assert sealed.status_code == 302
    assert CheckIn.objects.get(pk=checkin.pk).is_revealed


def test_the_answer_to_an_action_shows_what_the_action_did(couple, alice_client):
    checkin = open_checkin(alice_client)
    html(alice_client, checkin_path(checkin))
    sealed = act(alice_client, "seal", checkin, {"emotion": SEALED}).content.decode()
    assert "Your answer is sealed" in sealed
    assert checkin_path(checkin, "seal") not in sealed  # no answer form any more


def queries_of(client, path: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, headers=headers).status_code in (200, 304), path
    return len(captured)


def test_every_request_for_a_check_in_screen_costs_the_same_queries(
    couple, alice_client, bob_client
):
    """Nothing is kept between requests, so there is no first and later request: the second,
    third and fourth cost the same (the first of a session settles it), for either partner,
    before and after the reveal."""
    checkin = open_checkin(alice_client)
    act(alice_client, "seal", checkin, {"emotion": SEALED, "overall": "1"})
    paths = [reverse("checkins:list"), checkin_path(checkin)]

    def costs(client) -> list[int]:
        for path in paths:
            client.get(path)  # the session settles
        return [queries_of(client, path) for path in paths for _ in range(3)]

    open_costs = costs(alice_client)
    assert costs(bob_client) == open_costs
    assert len(set(open_costs[:3])) == 1 and len(set(open_costs[3:])) == 1

    act(bob_client, "seal", checkin, {"want": BOBS})
    # Revealed: the list offers to start a new one (the rules it may name, and their titles); the
    # check-in, with the lowest step, reads rule 1 too, for the gentle note, and asks whether a
    # therapist can read the agreement ("Share with our therapist").
    revealed = [n + 2 for n in open_costs[:3]] + [n + 2 for n in open_costs[3:]]
    assert costs(alice_client) == revealed
    assert costs(bob_client) == revealed
