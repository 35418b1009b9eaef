"""The benchmark's data set (python -m bench.seed): copies of agreements the services themselves
left, and signed-in sessions that the load test can use as they are."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from agreements.models import Acceptance, Agreement, Event, Rule, TherapistAccess
from agreements.stories import EVERY_STATE, agreement_in_every_state
from bench.seed import CHECKINS, STORIES, SeedRefused, checkins, seed
from checkins.models import CheckIn
from tests.conftest import link, make_user

SIZES = ["--couples", "24", "--therapists", "2", "--clients", "3", "--page-sessions", "3"]


@pytest.fixture
def seeded(db, tmp_path):
    seed([*SIZES, "--action-couples", "4", "--out", str(tmp_path)])
    return tmp_path


def lines(folder, name: str) -> list[list[str]]:
    return [line.split() for line in (folder / f"{name}.txt").read_text().splitlines()]


def signed_in(session: str, csrf: str = "") -> Client:
    client = Client()
    client.cookies["sessionid"] = session
    if csrf:
        client.cookies["csrftoken"] = csrf
    return client


def test_every_rule_in_force_is_accepted_by_both_partners_of_its_exact_version(seeded):
    assert Agreement.objects.count() == 24
    for rule in Rule.objects.filter(state=Rule.State.ACTIVE):
        live = Acceptance.objects.filter(version=rule.current_version, withdrawn_at__isnull=True)
        assert live.count() == 2
    for agreement in Agreement.objects.select_related("couple"):
        events = Event.objects.filter(agreement=agreement).count()
        # Every event moves the revision once, a sealed answer its author's only.
        sealed = sum(agreement.couple.partners.values_list("sealed_revision", flat=True))
        assert agreement.revision + sealed == events
    assert TherapistAccess.objects.filter(status="active").count() == 6


def test_the_page_sessions_are_signed_in_with_the_etag_of_their_page(seeded):
    session, _, etag, _ = lines(seeded, "page")[0]
    client = signed_in(session)
    page = client.get(reverse("agreements:agreement"))
    assert page.status_code == 200
    assert page["ETag"] == etag
    assert page.content.decode().count('class="rule-card ') == len(EVERY_STATE)
    poll = client.get(reverse("agreements:poll"), headers={"if-none-match": etag})
    assert poll.status_code == 304


def test_the_page_sessions_read_their_revealed_check_in_and_the_list(seeded):
    session, _, _, checkin = lines(seeded, "page")[0]
    client = signed_in(session)
    revealed = client.get(reverse("checkins:checkin", args=[int(checkin)]))
    assert revealed.status_code == 200
    assert "To say what I like out loud" in revealed.content.decode()
    listed = client.get(reverse("checkins:list"))
    assert listed.status_code == 200
    assert CheckIn.objects.filter(couple=CheckIn.objects.get(pk=checkin).couple).count() == CHECKINS


def test_the_acting_couples_can_reopen_accept_and_withdraw_their_resting_rule(seeded):
    a_session, a_csrf, b_session, b_csrf, rule, version, checkin = lines(seeded, "actions")[0]
    first, second = signed_in(a_session, a_csrf), signed_in(b_session, b_csrf)
    htmx = {"hx-request": "true"}
    resting = Rule.objects.get(pk=rule)
    assert resting.state == Rule.State.PAUSED and resting.agreed_version_id == int(version)
    # The first partner withdrew, so only they can reopen it; then the second accepts.
    assert first.session.get("_auth_user_id") == str(resting.withdrawn_by.user_id)
    reopen = reverse("agreements:reopen", args=[rule])
    assert first.post(reopen, {"note": ""}, headers=htmx).status_code == 200
    accept = reverse("agreements:accept", args=[rule])
    assert second.post(accept, {"version": version}, headers=htmx).status_code == 200
    assert Rule.objects.get(pk=rule).state == Rule.State.ACTIVE
    withdraw = reverse("agreements:withdraw", args=[rule])
    assert first.post(withdraw, {"note": ""}, headers=htmx).status_code == 200
    assert Rule.objects.get(pk=rule).state == Rule.State.PAUSED
    # Their newest revealed check-in, for the mixed workload.
    revealed = second.get(reverse("checkins:checkin", args=[int(checkin)]))
    assert revealed.status_code == 200


def test_the_therapist_sessions_see_their_client_couples(seeded):
    (session,) = lines(seeded, "therapist")[0]
    home = signed_in(session).get(reverse("therapist:home"))
    assert home.status_code == 200
    assert home.content.decode().count('class="card client"') == 3


def test_the_two_server_check_has_a_partner_who_signs_in_with_a_password(seeded):
    fixture = json.loads((seeded / "fixtures.json").read_text())["scaleout"]
    user = User.objects.get(email=fixture["login_email"])
    assert user.check_password(fixture["login_password"])


def test_it_only_fills_an_empty_database(seeded, tmp_path):
    with pytest.raises(SeedRefused):
        seed(["--couples", "24", "--out", str(tmp_path / "again")])


def shape(agreement: Agreement) -> dict:
    """What the services left in an agreement, with its partners by seat (0 or 1) and without
    ids or moments."""
    seat = {p.pk: n for n, p in enumerate(agreement.couple.partners.order_by("pk"))}

    def number(version) -> int | None:
        return version.number if version else None

    return {
        "revision": agreement.revision,
        "rules": [
            (
                rule.position,
                rule.state,
                [(v.number, v.title, v.text, seat.get(v.author_id)) for v in rule.versions.all()],
                number(rule.current_version),
                number(rule.pending_version),
                sorted(
                    (a.version.number, seat[a.partner_id], a.withdrawn_at is None)
                    for a in Acceptance.objects.filter(version__rule=rule)
                ),
            )
            for rule in agreement.rules.order_by("position")
        ],
        "events": [
            (e.kind, seat.get(e.partner_id), e.note, e.rule.position if e.rule else None)
            for e in agreement.events.order_by("created_at", "pk")
        ],
    }


def test_every_lived_in_agreement_is_a_copy_of_the_story_told_through_the_services(seeded):
    seats = link(make_user("x-a@example.com", "A"), make_user("x-b@example.com", "B"))
    told = agreement_in_every_state(*seats)
    checkins(seats)  # the couples some months in have check-ins too
    expected = shape(next(iter(told.values())).agreement)
    lived_in = [
        agreement
        for agreement in Agreement.objects.filter(therapist_accesses__isnull=True)
        if agreement.rules.count() == len(EVERY_STATE)
        and agreement.pk != told["in_force"].agreement_id
    ]
    assert len(lived_in) == sum(STORIES[i % len(STORIES)] == "every_state" for i in range(6, 24))
    for agreement in lived_in:
        assert shape(agreement) == expected


def test_the_sizes_have_more_rules_more_days_and_more_clients(db, tmp_path):
    sizes = ["--rules", "12", "--history-days", "4", "--scale-couples", "2"]
    seed(
        [*SIZES, "--action-couples", "4", *sizes, "--therapist-sizes", "1", "--out", str(tmp_path)]
    )
    pools = json.loads((tmp_path / "fixtures.json").read_text())["pools"]
    assert pools["rules12"]["couples"] == 2 and pools["rules12"]["rules"] == 12
    assert pools["standard"]["rules"] == pools["days4"]["rules"] == len(EVERY_STATE) - 1
    assert pools["base"]["couples"] == 2 and pools["base"]["rules"] == len(EVERY_STATE) - 1
    # Each day: a withdrawal, a reopening, an acceptance and the rule in force again.
    assert pools["days4"]["events"] == pools["standard"]["events"] + 4 * 4
    assert 4 <= pools["days4"]["days"] <= 5
    for name in ("base", "rules12", "days4"):
        a_session, a_csrf, b_session, b_csrf, rule, version, _ = lines(tmp_path, f"actions-{name}")[
            0
        ]
        first, second = signed_in(a_session, a_csrf), signed_in(b_session, b_csrf)
        htmx = {"hx-request": "true"}
        assert (
            first.post(reverse("agreements:reopen", args=[rule]), headers=htmx).status_code == 200
        )
        page = second.get(reverse("agreements:agreement"))
        assert page.content.decode().count('class="rule-card ') == pools[name]["rules"] + 1
    (session,) = lines(tmp_path, "therapist-1")[0]
    home = signed_in(session).get(reverse("therapist:home"))
    assert home.content.decode().count('class="card client"') == 1
    rounds = lines(tmp_path, "rounds")
    assert len(rounds) == 2 and len(rounds[0]) == 1 + 3  # a session, then its 3 clients' agreements
