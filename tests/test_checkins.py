"""Check-ins: started by either partner, answered apart, sealed, revealed together on the second
seal; let go, expired, replied to, turned into a proposal, shared with a therapist, exported,
erased and archived with the partnership."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from accounts import linking
from agreements import stories
from agreements.models import Event, Rule
from checkins import services
from checkins.models import STALE_AFTER, Answer, CheckIn
from intimacy import privacy
from tests.checkin_helpers import revealed
from tests.conftest import client_for, link

pytestmark = pytest.mark.django_db

WORDS = {"sensation": "Warm hands", "emotion": "Glad and shy", "want": "Go slower"}


def url(name: str, checkin: CheckIn) -> str:
    return reverse(f"checkins:{name}", args=[checkin.pk])


def start(client, **data):
    return client.post(reverse("checkins:start"), data)


def started(client) -> CheckIn:
    """The one check-in, started by this client's person."""
    start(client)
    return CheckIn.objects.get()


def sealed(client, words: dict = WORDS) -> CheckIn:
    """The one check-in, started by this client's person, with their answer sealed."""
    checkin = started(client)
    client.post(url("seal", checkin), words)
    return checkin


# -- starting --------------------------------------------------------------------------------------


def test_the_list_offers_start_a_check_in(alice_client, couple):
    page = alice_client.get(reverse("checkins:list")).content.decode()
    assert "Start a check-in" in page


def test_starting_makes_one_open_check_in_and_leads_to_it(alice_client, couple):
    response = start(alice_client, topic="Saturday night")
    checkin = CheckIn.objects.get()
    assert response.status_code == 302 and response["Location"] == url("checkin", checkin)
    assert checkin.topic == "Saturday night" and checkin.started_by == couple[0]
    assert checkin.is_open


def test_starting_while_one_is_open_leads_to_the_open_one(alice_client, bob_client, couple):
    start(alice_client)
    first = CheckIn.objects.get()
    response = start(bob_client, topic="Another")
    assert response["Location"] == url("checkin", first)
    assert CheckIn.objects.count() == 1


def test_a_check_in_can_point_at_rules_of_the_couple_only(alice_client, couple, other_couple):
    ours = Rule.objects.filter(agreement__couple_id=couple[0].couple_id).first()
    theirs = Rule.objects.filter(agreement__couple_id=other_couple[0].couple_id).first()
    response = start(alice_client, rules=[ours.pk])
    assert response.status_code == 302
    assert list(CheckIn.objects.get().rules.all()) == [ours]
    CheckIn.objects.all().delete()
    response = start(alice_client, rules=[theirs.pk])
    assert response.status_code == 422  # not one of the choices
    assert not CheckIn.objects.exists()


def test_the_other_partner_sees_that_a_check_in_waits_but_not_what_was_written(
    alice_client, bob_client, couple, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        start(alice_client)
        checkin = CheckIn.objects.get()
        alice_client.post(url("seal", checkin), WORDS)
    listing = bob_client.get(reverse("checkins:list")).content.decode()
    assert "Write your answer" in listing and "Alice (you)" not in strip_tags(listing)
    assert "<bdi>Alice</bdi>: <strong>sealed</strong>" in listing
    assert "Warm hands" not in listing
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["bob@example.com"]
    assert "Warm hands" not in mail.outbox[0].body
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = couple[1].user
    line = Template('{% include "checkins/_waiting.html" %}').render(Context({"request": request}))
    assert "A check-in is open. Take your time" in line and url("checkin", checkin) in line
    assert "notice" not in line  # as calm as the rest of the page: no warning colour
    request.user = couple[0].user  # alice has sealed: nothing waits for her
    assert "check-in" not in Template('{% include "checkins/_waiting.html" %}').render(
        Context({"request": request})
    )


# -- answering -------------------------------------------------------------------------------------


def test_the_form_has_the_three_textareas_the_two_questions_and_seal_my_answer(
    alice_client, couple
):
    start(alice_client)
    page = alice_client.get(url("checkin", CheckIn.objects.get())).content.decode()
    for name in ("sensation", "emotion", "want"):
        assert f'<textarea name="{name}"' in page
    assert "It hurt, or I wanted to stop" in page and "Wonderful" in page
    assert "Was there a moment you wanted to stop and did not say so?" in page
    assert "I would rather not say" in page
    assert "Seal my answer" in page and "Let it go" in page
    assert 'data-revealed="false"' in page


def test_an_empty_answer_is_refused_with_a_message(alice_client, couple):
    checkin = started(alice_client)
    response = alice_client.post(url("seal", checkin), {"sensation": "  "})
    assert response.status_code == 422
    assert "at least one thing" in response.content.decode()
    assert not Answer.objects.exists()


def test_one_choice_alone_is_enough_to_seal(alice_client, couple):
    checkin = started(alice_client)
    response = alice_client.post(url("seal", checkin), {"wanted_to_stop": "rather_not"})
    assert response.status_code == 302
    assert Answer.objects.get().wanted_to_stop == "rather_not"


def test_a_too_long_answer_comes_back_with_the_words_kept(alice_client, couple):
    checkin = started(alice_client)
    response = alice_client.post(url("seal", checkin), {"want": "w" * 2001, "emotion": "kept"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "under 2000 characters" in body and "kept</textarea>" in body


def test_the_second_seal_reveals_both_side_by_side_once(alice_client, bob_client, couple):
    a, b = couple
    checkin = sealed(alice_client, WORDS | {"overall": "4"})
    assert not CheckIn.objects.get().is_revealed
    response = bob_client.post(url("seal", checkin), {"want": "Candles", "overall": "5"})
    assert response.status_code == 302
    checkin.refresh_from_db()
    assert checkin.is_revealed
    events = Event.objects.filter(kind=Event.Kind.CHECKIN_REVEALED)
    assert events.count() == 1
    for client in (alice_client, bob_client):
        page = client.get(url("checkin", checkin)).content.decode()
        assert 'data-revealed="true"' in page and f'data-checkin="{checkin.pk}"' in page
        assert "Warm hands" in page and "Candles" in page
        assert page.index(">Alice") < page.index("Warm hands") < page.index(">Bob")
        assert page.index(">Bob") < page.index("Candles")
    timeline = alice_client.get(reverse("agreements:timeline")).content.decode()
    assert timeline.lower().count("check-in revealed") == 1
    # Sealing again after the reveal changes nothing and records nothing.
    response = alice_client.post(url("seal", checkin), {"want": "changed"})
    assert Answer.objects.get(partner=a).want == "Go slower"
    assert events.count() == 1


def test_htmx_gets_the_check_in_element_back(alice_client, couple):
    checkin = started(alice_client)
    response = alice_client.post(url("seal", checkin), WORDS, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<article id="checkin"') and "<html" not in body
    assert "Your answer is sealed" in body and "Warm hands" in body
    assert 'hx-trigger="every 5s"' in body  # waits for bob by polling


def test_the_poll_answers_304_when_nothing_changed(alice_client, bob_client, couple):
    checkin = sealed(alice_client)
    first = alice_client.get(url("poll", checkin), headers={"HX-Request": "true"})
    etag = first["ETag"]
    again = alice_client.get(
        url("poll", checkin), headers={"HX-Request": "true", "If-None-Match": etag}
    )
    assert again.status_code == 304
    bob_client.post(url("seal", checkin), {"want": "Candles"})
    after = alice_client.get(
        url("poll", checkin), headers={"HX-Request": "true", "If-None-Match": etag}
    )
    assert after.status_code == 200 and "Candles" in after.content.decode()


def test_an_answer_can_be_changed_until_the_reveal(alice_client, bob_client, couple):
    a, _ = couple
    checkin = sealed(alice_client)
    response = alice_client.post(url("reopen", checkin))
    assert response.status_code == 302
    page = alice_client.get(url("checkin", checkin)).content.decode()
    assert "Go slower</textarea>" in page  # the form, filled with what she wrote
    # bob sealing while alice rewrites does not reveal: her answer is not sealed now
    bob_client.post(url("seal", checkin), {"want": "Candles"})
    assert not CheckIn.objects.get().is_revealed
    alice_client.post(url("seal", checkin), WORDS | {"want": "Go much slower"})
    checkin.refresh_from_db()
    assert checkin.is_revealed and Answer.objects.get(partner=a).want == "Go much slower"
    assert alice_client.post(url("reopen", checkin)).status_code == 302
    assert Answer.objects.get(partner=a).is_sealed  # too late after the reveal


def test_a_gentle_note_points_at_rule_1_and_named_rules_without_saying_who(couple):
    a, b = couple
    rule_1 = Rule.objects.get(agreement__couple_id=a.couple_id, position=1)
    named = Rule.objects.get(agreement__couple_id=a.couple_id, position=4)
    checkin, _ = services.start(partner=a, rule_ids=[named.pk])
    services.seal(partner=a, checkin=checkin, want="x", overall=4)
    services.seal(partner=b, checkin=checkin, want="y", wanted_to_stop="yes")
    page = client_for(a.user).get(url("checkin", checkin)).content.decode()
    note = page[page.index('aria-label="A gentle note"') :]
    note = note[: note.index("</aside>")]
    assert rule_1.shown_version.title in note and named.shown_version.title in note
    assert "Bob" not in note and "Alice" not in note


def test_no_note_when_nobody_wanted_to_stop(couple):
    checkin = revealed(*couple)
    page = client_for(couple[0].user).get(url("checkin", checkin)).content.decode()
    assert "A gentle note" not in page


def test_the_lowest_step_alone_brings_the_note(couple):
    checkin = revealed(*couple, b_words={"overall": 1})
    page = client_for(couple[0].user).get(url("checkin", checkin)).content.decode()
    assert "A gentle note" in page


# -- letting go and expiry -------------------------------------------------------------------------


def test_letting_go_keeps_each_answer_for_its_writer_alone(alice_client, bob_client, couple):
    a, b = couple
    checkin = sealed(alice_client)
    response = bob_client.post(url("let_go", checkin))
    assert response.status_code == 302
    checkin.refresh_from_db()
    assert checkin.is_closed and checkin.let_go_by == b and not checkin.is_revealed
    assert "Warm hands" in alice_client.get(url("checkin", checkin)).content.decode()
    bobs = bob_client.get(url("checkin", checkin)).content.decode()
    assert "Warm hands" not in bobs and "nothing was revealed" in bobs
    # bob sealing now is refused: nothing is ever revealed
    response = bob_client.post(url("seal", checkin), {"want": "late"})
    assert "let go" in response.content.decode()
    assert not CheckIn.objects.get().is_revealed
    assert not Event.objects.filter(kind=Event.Kind.CHECKIN_REVEALED).exists()
    # and a new check-in may start
    start(bob_client)
    assert CheckIn.objects.count() == 2


def test_a_let_go_answer_can_be_deleted_by_its_writer(alice_client, couple):
    checkin = sealed(alice_client)
    assert alice_client.post(url("delete_answer", checkin)).status_code == 302
    assert Answer.objects.count() == 1  # not before letting go
    alice_client.post(url("let_go", checkin))
    alice_client.post(url("delete_answer", checkin))
    assert not Answer.objects.exists()


def test_a_revealed_check_in_cannot_be_let_go(couple):
    checkin = revealed(*couple)
    with pytest.raises(services.CheckInError):
        services.let_go(partner=couple[0], checkin=checkin)


def _age(checkin: CheckIn, days: int) -> None:
    CheckIn.objects.filter(pk=checkin.pk).update(touched_at=timezone.now() - timedelta(days=days))


def test_a_check_in_untouched_for_14_days_closes_by_the_command(couple):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    _age(checkin, 13)
    call_command("close_stale_checkins")
    assert CheckIn.objects.get().is_open
    _age(checkin, STALE_AFTER.days)
    call_command("close_stale_checkins")
    checkin.refresh_from_db()
    assert checkin.is_closed and checkin.let_go_by is None


def test_a_stale_check_in_shows_closed_everywhere_though_nothing_closed_its_row(
    alice_client, bob_client, couple
):
    a, b = couple
    checkin, _ = services.start(partner=a, topic="Picnic")
    services.seal(partner=a, checkin=checkin, want="x")
    _age(checkin, 15)

    page = bob_client.get(url("checkin", checkin)).content.decode()
    assert "Closed: nothing was revealed" in page and "closed on its own" in page
    assert url("seal", checkin) not in page and url("poll", checkin) not in page
    listing = bob_client.get(reverse("checkins:list")).content.decode()
    assert "A check-in is open" not in listing and "Start a check-in" in listing
    assert "status-closed" in listing
    home = bob_client.get(reverse("agreements:agreement")).content.decode()
    assert "data-checkin-waiting" not in home
    assert privacy.export_data(b.user)["couples"][0]["checkins"][0]["status"] == "closed"
    assert CheckIn.objects.get().closed_at is None  # shown closed; the row is the command's


def test_reading_check_ins_writes_nothing(alice_client, bob_client, couple, dana_with_access):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a, b = couple
    shared = revealed(a, b)
    for seat in couple:
        services.set_sharing(partner=seat, checkin=shared, share=True)
    stale, _ = services.start(partner=a)
    services.seal(partner=a, checkin=stale, want="x")
    _age(stale, 15)
    agreement = a.couple.agreement
    dana = dana_with_access
    reads = [
        (alice_client, reverse("checkins:list"), {}),
        (bob_client, url("checkin", stale), {}),
        (bob_client, url("poll", stale), {"HX-Request": "true"}),
        (alice_client, url("checkin", shared), {}),
        (bob_client, reverse("home"), {}),
        (dana, reverse("checkins:therapist_list", args=[agreement.pk]), {}),
        (dana, reverse("checkins:therapist_checkin", args=[agreement.pk, shared.pk]), {}),
    ]
    for client, path, headers in reads:
        client.get(path, headers=headers)  # the session settles
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, headers=headers).status_code == 200, path
        writes = [
            q["sql"]
            for q in captured
            if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        ]
        assert writes == [], path
    assert CheckIn.objects.get(pk=stale.pk).closed_at is None


def test_the_next_action_on_a_stale_check_in_is_refused_and_closes_its_row(couple):
    a, b = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    _age(checkin, 15)
    with pytest.raises(services.CheckInError, match="untouched for two weeks"):
        services.seal(partner=b, checkin=checkin, want="y")
    checkin.refresh_from_db()
    assert checkin.is_closed and checkin.let_go_by is None and not checkin.is_revealed
    assert not Answer.objects.filter(partner=b).exists()


@pytest.mark.parametrize("action", ["reopen", "let_go"])
def test_reopening_or_letting_go_a_stale_check_in_is_refused_too(couple, action):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    _age(checkin, 15)
    with pytest.raises(services.CheckInError, match="untouched for two weeks"):
        getattr(services, action)(partner=a, checkin=checkin)
    checkin.refresh_from_db()
    assert checkin.is_closed and checkin.let_go_by is None
    assert Answer.objects.get(partner=a).is_sealed


def test_the_poll_sees_a_check_in_close_by_the_clock_alone(alice_client, couple, monkeypatch):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    etag = alice_client.get(url("poll", checkin), headers={"HX-Request": "true"})["ETag"]
    later = timezone.now() + STALE_AFTER + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)  # no row changed: only the clock moved
    after = alice_client.get(
        url("poll", checkin), headers={"HX-Request": "true", "If-None-Match": etag}
    )
    assert after.status_code == 200
    assert "Closed: nothing was revealed" in after.content.decode()


def test_a_check_in_is_open_until_the_moment_it_goes_stale(couple):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    almost = timezone.now() - STALE_AFTER + timedelta(minutes=1)
    CheckIn.objects.filter(pk=checkin.pk).update(touched_at=almost)
    checkin.refresh_from_db()
    assert checkin.status == "open" and checkin.is_open_now
    assert list(CheckIn.objects.open_now()) == [checkin]
    later = almost + STALE_AFTER
    assert checkin.closes_at == later
    assert not CheckIn.objects.open_now(now=later).exists()
    assert list(CheckIn.objects.stale(now=later)) == [checkin]


def test_a_stale_check_in_does_not_block_a_new_one(couple):
    a, b = couple
    checkin, _ = services.start(partner=a)
    _age(checkin, 20)
    fresh, created = services.start(partner=b)
    assert created and fresh.pk != checkin.pk


# -- after the reveal ------------------------------------------------------------------------------


def test_propose_a_rule_from_this_prefills_the_new_rule_form_with_my_own_want(couple):
    a, b = couple
    checkin = revealed(a, b, topic="Sunday")
    alice = client_for(a.user)
    page = alice.get(url("checkin", checkin)).content.decode()
    assert "Propose a rule from this" in page
    link = reverse("checkins:propose", args=[checkin.pk])
    assert f'href="{link}"' in page  # the Want itself never travels in a URL
    form = alice.get(link).content.decode()
    assert "More slowness</textarea>" in form and "From our check-in: Sunday" in form
    assert "Kissing first" not in form
    assert f'action="{reverse("agreements:new_rule")}"' in form
    # Bob's own Want is his to propose; an outsider gets nothing.
    assert "Kissing first" in client_for(b.user).get(link).content.decode()


def test_no_proposal_from_a_check_in_that_is_not_revealed(couple):
    a, b = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="Slower")
    assert client_for(a.user).get(reverse("checkins:propose", args=[checkin.pk])).status_code == 404


def test_each_partner_replies_once(couple):
    a, b = couple
    checkin = revealed(a, b)
    bob = client_for(b.user)
    assert bob.post(url("reply", checkin), {"text": "Yes, slower"}).status_code == 302
    response = bob.post(url("reply", checkin), {"text": "Again"})
    assert Answer.objects.get(partner=b).reply == "Yes, slower"
    assert "already replied" in response.content.decode() or response.status_code == 409
    assert "Yes, slower" in client_for(a.user).get(url("checkin", checkin)).content.decode()


def test_a_reply_before_the_reveal_is_refused(couple):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    with pytest.raises(services.CheckInError):
        services.add_reply(partner=a, checkin=checkin, text="hello")


def test_the_list_is_newest_first_and_the_chart_needs_three_revealed(couple):
    a, b = couple
    alice = client_for(a.user)
    first = revealed(a, b, topic="First")
    second = revealed(a, b, topic="Second")
    page = alice.get(reverse("checkins:list")).content.decode()
    assert page.index("Second") < page.index("First")
    assert "<svg" not in page
    revealed(a, b, topic="Third", b_words={"want": "x"})  # bob gave no step: alice's counts
    page = alice.get(reverse("checkins:list")).content.decode()
    assert '<svg class="overall-chart"' in page and "<table" in page
    assert "Wonderful" in page and "not answered" in page
    assert "streak" not in page.lower() and "score" not in page.lower().replace("not a score", "")
    assert first.pk and second.pk


# -- the therapist ---------------------------------------------------------------------------------


@pytest.fixture
def dana_with_access(couple, dana):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(dana, generate_totp_secret())
    a, b = couple
    stories.grant_therapist((a, b), dana)
    return client_for(dana)


def test_the_therapist_sees_a_check_in_only_while_both_share_it(couple, dana_with_access):
    a, b = couple
    checkin = revealed(a, b)
    agreement = a.couple.agreement
    page_url = reverse("checkins:therapist_checkin", args=[agreement.pk, checkin.pk])
    list_url = reverse("checkins:therapist_list", args=[agreement.pk])
    assert dana_with_access.get(page_url).status_code == 404
    client_for(a.user).post(url("share", checkin), {"share": "yes"})
    assert dana_with_access.get(page_url).status_code == 404  # one of two is not enough
    assert "More slowness" not in dana_with_access.get(list_url).content.decode()
    client_for(b.user).post(url("share", checkin), {"share": "yes"})
    page = dana_with_access.get(page_url).content.decode()
    assert "More slowness" in page and "Kissing first" in page
    assert (
        "Seal my answer" not in page and "Share" not in page.split("<main")[1].split("Started")[0]
    )
    assert url("checkin", checkin) in dana_with_access.get(list_url).content.decode() or (
        page_url in dana_with_access.get(list_url).content.decode()
    )
    client_for(b.user).post(url("share", checkin), {"share": "no"})
    assert dana_with_access.get(page_url).status_code == 404  # on the very next request
    assert page_url not in dana_with_access.get(list_url).content.decode()


def test_an_open_check_in_cannot_be_shared(couple):
    a, _ = couple
    checkin, _ = services.start(partner=a)
    services.seal(partner=a, checkin=checkin, want="x")
    with pytest.raises(services.CheckInError):
        services.set_sharing(partner=a, checkin=checkin, share=True)


# -- outsiders ------------------------------------------------------------------------------------


def test_another_couple_gets_404_on_every_check_in_url(couple, other_couple, carol):
    checkin = revealed(*couple)
    carol_client = client_for(carol)
    for name in ("checkin", "poll"):
        assert carol_client.get(url(name, checkin)).status_code == 404
    for name in ("seal", "reopen", "let_go", "delete_answer", "reply", "share"):
        assert carol_client.post(url(name, checkin), {"want": "x"}).status_code == 404


# -- export, deletion, end of the partnership ------------------------------------------------------


def test_the_export_has_my_answers_always_and_my_partners_only_once_revealed(couple):
    from intimacy.privacy import export_data, export_markdown

    a, b = couple
    checkin, _ = services.start(partner=a, topic="Picnic")
    services.seal(partner=a, checkin=checkin, want="Alice wants")
    # bob has not sealed yet
    bob_json = str(export_data(b.user))
    assert "Alice wants" not in bob_json and "Alice wants" not in export_markdown(b.user)
    assert "Alice wants" in str(export_data(a.user))
    assert "Alice wants" in export_markdown(a.user)
    services.seal(partner=b, checkin=checkin, want="Bob wants")
    data = export_data(b.user)
    section = data["couples"][0]["checkins"]
    assert section[0]["topic"] == "Picnic" and section[0]["status"] == "revealed"
    assert {x["want"] for x in section[0]["answers"]} == {"Alice wants", "Bob wants"}
    assert "Alice wants" in export_markdown(b.user)


def test_deleting_an_account_removes_answers_nobody_else_could_read(couple):
    a, b = couple
    shown = revealed(a, b)
    kept_back, _ = services.start(partner=a)
    services.seal(partner=a, checkin=kept_back, want="Never shown")
    privacy.delete_account(user=a.user)
    assert Answer.objects.filter(checkin=kept_back).count() == 0
    assert Answer.objects.filter(checkin=shown).count() == 2  # seen by bob, stays with him
    assert CheckIn.objects.get(pk=kept_back.pk).is_closed


def test_deleting_both_accounts_removes_every_check_in(couple):
    a, b = couple
    revealed(a, b)
    privacy.delete_account(user=a.user)
    privacy.delete_account(user=b.user)
    assert not CheckIn.objects.exists() and not Answer.objects.exists()


def test_an_ended_partnership_keeps_its_check_ins_readable_and_read_only(couple, alice, bob):
    a, b = couple
    checkin = revealed(a, b)
    agreement = a.couple.agreement
    linking.end_partnership(user=alice)
    alice_client = client_for(alice)
    page = alice_client.get(url("checkin", checkin)).content.decode()
    assert "Kissing first" in page and "read-only" in page
    assert "Send my reply" not in page and "Propose a rule from this" not in page
    archived = alice_client.get(reverse("checkins:archived", args=[agreement.pk]))
    assert archived.status_code == 200 and url("checkin", checkin) in archived.content.decode()
    alice_client.post(url("reply", checkin), {"text": "late"})
    assert not Answer.objects.filter(reply="late").exists()
    # a new couple with someone else does not see the old check-ins on /checkins/
    link(alice, bob)
    listing = alice_client.get(reverse("checkins:list")).content.decode()
    assert url("checkin", checkin) not in listing


# -- demo data -------------------------------------------------------------------------------------


def test_seed_demo_makes_the_demo_check_ins_once(settings):
    from io import StringIO

    settings.DEBUG = True
    for _ in range(2):
        call_command("seed_demo", stdout=StringIO())
    from accounts.models import User

    alice = User.objects.get(email="alice@example.com").current_partner_seat()
    carol = User.objects.get(email="carol@example.com").current_partner_seat()
    ours = list(CheckIn.objects.filter(couple_id=alice.couple_id))
    assert len(ours) == 2
    assert [c.is_revealed for c in ours].count(True) == 1
    sealed_only = next(c for c in ours if c.is_open)
    assert [a.partner.user.email for a in sealed_only.answers.filter(sealed_at__isnull=False)] == [
        "alice@example.com"
    ]
    theirs = CheckIn.objects.get(couple_id=carol.couple_id)
    assert theirs.is_revealed and all(a.shared_with_therapist for a in theirs.answers.all())


def test_the_list_costs_the_same_number_of_queries_however_many_check_ins(couple):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a, b = couple
    alice = client_for(a.user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice.get(reverse("checkins:list")).status_code == 200
        return len(queries)

    for _ in range(3):
        revealed(a, b)
    count()  # the first request of a session does a little more
    few = count()
    for _ in range(4):
        revealed(a, b)
    assert count() == few
