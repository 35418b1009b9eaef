"""Sealed means sealed: until both partners have sealed, the other partner, a therapist and an
outsider learn only THAT an answer is sealed. Every URL each of them can request is scanned for
the sealed words, and compared with the same requests after the sealed rating changed (any
difference would give the rating away), before and after the reveal and after letting go:
pages, htmx fragments, the poll, exports, the agreement's timeline and history, emails and logs."""

import logging
import re

import pytest
from django.core import mail
from django.urls import reverse

from checkins import services
from checkins.models import Answer, CheckIn
from tests.security_world import ROLES, build_world
from tests.test_security_authorization import MATRIX, project_url_patterns

pytestmark = pytest.mark.django_db

SEALED = {
    "sensation": "Quokka-lantern",
    "emotion": "Tamarind-hush",
    "want": "Velvet-ladder",
}
WORDS = list(SEALED.values())
OTHERS = [role for role in ROLES if role != "partner"]
NOT_PARTNERS = [role for role in OTHERS if role != "other_partner"]


def _normalise(body: str) -> str:
    """What changes from one request to the next whatever was written: tokens and clocks."""
    body = re.sub(r'(csrfmiddlewaretoken" value=")[^"]+', r"\1", body)
    body = re.sub(r'("X-CSRFToken": ")[^"]+', r"\1", body)
    body = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?", "T", body)
    return re.sub(r"\d\d:\d\d", "T", body)


def _requests(world, checkin: CheckIn):
    """(label, client call) for everything a role can ask for: every project URL of the
    matrix, and the check-in's own page, fragment and poll, and refused writes on it."""
    calls = []
    for name in sorted(project_url_patterns()):
        case = MATRIX.get(name)
        if case is None or name == "accounts:delete_account":
            continue
        url = reverse(name, kwargs=case.kwargs(world))
        calls.append((f"GET {name}", lambda c, url=url: c.get(url)))
    page = reverse("checkins:checkin", args=[checkin.pk])
    poll = reverse("checkins:poll", args=[checkin.pk])
    htmx = {"HX-Request": "true"}
    calls += [
        ("GET check-in", lambda c: c.get(page)),
        ("GET check-in htmx", lambda c: c.get(page, headers=htmx)),
        ("GET poll", lambda c: c.get(poll, headers=htmx)),
        ("GET list htmx", lambda c: c.get(reverse("checkins:list"), headers=htmx)),
        (
            "POST empty seal",
            lambda c: c.post(reverse("checkins:seal", args=[checkin.pk]), {"want": ""}),
        ),
        (
            "POST reply before reveal",
            lambda c: c.post(
                reverse("checkins:reply", args=[checkin.pk]), {"text": "hi"}, headers=htmx
            ),
        ),
        (
            "GET therapist check-in",
            lambda c: c.get(
                reverse("checkins:therapist_checkin", args=[world.agreement.pk, checkin.pk])
            ),
        ),
        ("GET export json", lambda c: c.get(reverse("accounts:export_json"))),
        ("GET export markdown", lambda c: c.get(reverse("accounts:export_markdown"))),
        ("GET timeline", lambda c: c.get(reverse("agreements:timeline"))),
        (
            "GET history of rule 1",
            lambda c: c.get(reverse("agreements:history", args=[world.active_rule.pk])),
        ),
    ]
    return calls


def _scan(world, checkin: CheckIn, roles: list[str]) -> dict[str, str]:
    """Every role's answers. The first visit of a page may change what the next shows ("last
    viewed: never"), so the first round is only a warm-up."""
    if not getattr(world, "_warm", False):
        world._warm = True
        _scan(world, checkin, roles)
    bodies = {}
    for role in roles:
        client = world.clients[role]
        for label, call in _requests(world, checkin):
            response = call(client)
            body = response.content.decode(errors="replace")
            bodies[f"{label} as {role}"] = _normalise(body)
    return bodies


def _leaks(bodies: dict[str, str]) -> list[str]:
    return [f"{where}: {word}" for where, body in bodies.items() for word in WORDS if word in body]


def _rate(checkin: CheckIn, overall: int, stop: str) -> None:
    Answer.objects.filter(checkin=checkin, partner__user__email="alice@example.com").update(
        overall=overall, wanted_to_stop=stop
    )


def _no_words_in_mail_or_logs(caplog) -> None:
    for message in mail.outbox:
        text = message.subject + message.body
        assert not [w for w in WORDS if w in text], text
    logged = caplog.text + "".join(
        logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info
    )
    assert not [w for w in WORDS if w in logged]


@pytest.fixture
def sealed_world(caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    world = build_world()
    alice, bob = world.seats["alice"], world.seats["bob"]
    # A fresh check-in of alice and bob's, with only alice's answer sealed.
    services.let_go(partner=bob, checkin=world.open_checkin)
    with django_capture_on_commit_callbacks(execute=True):
        checkin, _ = services.start(partner=bob, topic="Our evening")
        services.seal(partner=alice, checkin=checkin, overall=1, wanted_to_stop="yes", **SEALED)
    return world, checkin


def test_nobody_but_alice_reads_or_infers_her_sealed_answer(sealed_world, caplog):
    world, checkin = sealed_world
    before = _scan(world, checkin, OTHERS)
    assert not _leaks(before)
    # The same requests after the sealed rating changed give the same answers: nothing in them
    # depends on the rating or on the "wanted to stop" answer.
    _rate(checkin, 5, "no")
    after = _scan(world, checkin, OTHERS)
    changed = [where for where in before if before[where] != after[where]]
    assert not changed, changed
    # bob learns that it is sealed, and that is all.
    page = world.clients["other_partner"].get(reverse("checkins:checkin", args=[checkin.pk]))
    assert "<bdi>Alice</bdi>: <strong>sealed</strong>" in page.content.decode()
    _no_words_in_mail_or_logs(caplog)
    # and alice herself reads her own words.
    mine = world.clients["partner"].get(reverse("checkins:checkin", args=[checkin.pk]))
    assert all(word in mine.content.decode() for word in WORDS)


def test_after_the_reveal_only_the_two_partners_read_the_answers(
    sealed_world, caplog, django_capture_on_commit_callbacks
):
    world, checkin = sealed_world
    with django_capture_on_commit_callbacks(execute=True):
        response = world.clients["other_partner"].post(
            reverse("checkins:seal", args=[checkin.pk]), {"emotion": "Calm"}
        )
    assert response.status_code == 302 and CheckIn.objects.get(pk=checkin.pk).is_revealed
    before = _scan(world, checkin, NOT_PARTNERS)
    assert not _leaks(before)
    _rate(checkin, 5, "no")
    after = _scan(world, checkin, NOT_PARTNERS)
    assert not [where for where in before if before[where] != after[where]]
    bobs = world.clients["other_partner"].get(reverse("checkins:checkin", args=[checkin.pk]))
    assert all(word in bobs.content.decode() for word in WORDS)
    _no_words_in_mail_or_logs(caplog)


def test_a_let_go_answer_stays_sealed_for_ever(sealed_world, caplog):
    world, checkin = sealed_world
    world.clients["other_partner"].post(reverse("checkins:let_go", args=[checkin.pk]))
    assert CheckIn.objects.get(pk=checkin.pk).is_closed
    before = _scan(world, checkin, OTHERS)
    assert not _leaks(before)
    _rate(checkin, 5, "no")
    after = _scan(world, checkin, OTHERS)
    assert not [where for where in before if before[where] != after[where]]
    _no_words_in_mail_or_logs(caplog)


def test_an_error_report_during_the_other_partners_request_carries_no_sealed_word(
    sealed_world, settings, monkeypatch
):
    from checkins import pages

    world, checkin = sealed_world
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.com"]
    original = pages.view_for_partner

    def broken(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "view_for_partner", broken)
    bob = world.clients["other_partner"]
    bob.raise_request_exception = False
    mail.outbox.clear()
    response = bob.get(reverse("checkins:checkin", args=[checkin.pk]))
    assert response.status_code == 500
    reports = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert reports
    for report in reports:
        assert "RuntimeError" in report.body
        assert not [w for w in WORDS if w in report.body]
