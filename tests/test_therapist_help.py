"""What a therapist can do besides read: suggest a rule or new wording (nobody's proposal until a
partner adopts it, then the ordinary consent workflow), invite the couple to a check-in, and keep
private session notes that only they can read."""

import pytest
from django.urls import reverse

from accounts.models import User
from agreements import consent, therapy
from agreements.consent import ConsentError, NothingChanged
from agreements.models import (
    Acceptance,
    Agreement,
    Event,
    Rule,
    RuleVersion,
    SessionNote,
    Suggestion,
    TherapistAccess,
)
from intimacy import privacy
from tests.conftest import both_accept, client_for, fresh, make_user, rules_of

Kind = Event.Kind
Scope = TherapistAccess.Scope


def grant(seats, therapist, scope: str = Scope.RULES) -> TherapistAccess:
    _, token = therapy.create_client_link(therapist=therapist)
    asked = therapy.ask_partner(partner=seats[0], token=token, scope=scope)
    return therapy.agree(partner=seats[1], access_id=asked.pk)


@pytest.fixture
def live(couple, dana) -> TherapistAccess:
    return grant(couple, dana)


def rule_states(agreement: Agreement) -> list[tuple]:
    """Everything that decides whether a rule is in force."""
    return list(
        agreement.rules.order_by("pk").values_list(
            "pk", "state", "current_version", "pending_version", "latest_version"
        )
    )


def consent_rows() -> tuple[int, int]:
    return RuleVersion.objects.count(), Acceptance.objects.count()


# -- suggestions ----------------------------------------------------------------------------------


def test_a_suggested_rule_is_no_rule_and_nobodys_acceptance_until_adopted(live, agreement, dana):
    before, rows = rule_states(agreement), consent_rows()
    suggestion = therapy.suggest_rule(
        therapist=dana,
        agreement=agreement,
        title="Phones away",
        text="No phones at dinner.",
        note="You both mentioned dinner.",
    )
    assert suggestion.is_open
    assert (suggestion.title, suggestion.text) == ("Phones away", "No phones at dinner.")
    assert rule_states(agreement) == before
    assert consent_rows() == rows
    assert Event.objects.filter(kind=Kind.SUGGESTED_RULE, therapist=dana).count() == 1


def test_suggested_wording_leaves_a_rule_in_force_exactly_as_it_was(live, agreement, couple, dana):
    rule = both_accept(rules_of(couple[0])[0], *couple)
    before, rows = rule_states(agreement), consent_rows()
    therapy.suggest_wording(therapist=dana, rule=rule, title="Kinder", text="A kinder wording.")
    assert rule_states(agreement) == before
    assert consent_rows() == rows
    assert fresh(rule).is_in_force


def test_adopting_a_suggested_rule_makes_it_that_partners_proposal_then_the_usual_workflow(
    live, agreement, couple, dana
):
    alice, bob = couple
    suggestion = therapy.suggest_rule(
        therapist=dana, agreement=agreement, title="Phones away", text="No phones at dinner."
    )
    adopted = therapy.adopt_suggestion(partner=bob, suggestion_id=suggestion.pk)
    rule = fresh(adopted.adopted_rule)
    assert adopted.status == Suggestion.Status.ADOPTED
    assert adopted.adopted_by == bob
    assert rule.state == Rule.State.PROPOSED
    version = rule.pending_version
    assert (version.title, version.text, version.author) == (
        "Phones away",
        "No phones at dinner.",
        bob,
    )
    assert adopted.adopted_version == version
    # Bob's acceptance, recorded as for any proposal he writes; Alice's answer still to come.
    assert list(
        Acceptance.objects.filter(version=version, withdrawn_at__isnull=True).values_list(
            "partner", flat=True
        )
    ) == [bob.pk]
    # The history says where it came from.
    event = Event.objects.get(kind=Kind.SUGGESTION_ADOPTED)
    assert (event.partner, event.therapist, event.version) == (bob, dana, version)
    assert Event.objects.filter(kind=Kind.PROPOSED_RULE, version=version, partner=bob).exists()

    consent.accept(partner=alice, rule=rule, version_id=version.pk)
    assert fresh(rule).is_in_force


def test_adopted_new_wording_waits_for_both_while_the_rule_stays_in_force(
    live, agreement, couple, dana
):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    in_force = rule.current_version
    suggestion = therapy.suggest_wording(
        therapist=dana, rule=rule, title="Kinder", text="A kinder wording.", note="Try this?"
    )
    assert suggestion.based_on == in_force
    therapy.adopt_suggestion(partner=alice, suggestion_id=suggestion.pk)
    rule = fresh(rule)
    assert rule.is_in_force and rule.current_version == in_force
    assert rule.pending_version.text == "A kinder wording."
    assert rule.pending_version.author == alice
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    assert fresh(rule).current_version.text == "A kinder wording."


def test_a_suggestion_is_adopted_or_set_aside_once_and_setting_aside_changes_no_rule(
    live, agreement, couple, dana
):
    alice, bob = couple
    first = therapy.suggest_rule(therapist=dana, agreement=agreement, title="", text="One.")
    second = therapy.suggest_rule(therapist=dana, agreement=agreement, title="", text="Two.")
    before, rows = rule_states(agreement), consent_rows()
    therapy.set_aside_suggestion(partner=alice, suggestion_id=first.pk)
    therapy.set_aside_suggestion(partner=bob, suggestion_id=first.pk)  # a double submit
    assert rule_states(agreement) == before and consent_rows() == rows
    with pytest.raises(ConsentError):
        therapy.adopt_suggestion(partner=bob, suggestion_id=first.pk)

    therapy.adopt_suggestion(partner=alice, suggestion_id=second.pk)
    with pytest.raises(ConsentError):
        therapy.adopt_suggestion(partner=bob, suggestion_id=second.pk)
    with pytest.raises(ConsentError):
        therapy.set_aside_suggestion(partner=bob, suggestion_id=second.pk)
    assert agreement.rules.count() == len(before) + 1
    first.refresh_from_db()
    assert (first.status, first.set_aside_by) == (Suggestion.Status.SET_ASIDE, alice)


def test_only_a_partner_of_the_couple_can_adopt_or_set_aside(live, agreement, other_couple, dana):
    suggestion = therapy.suggest_rule(therapist=dana, agreement=agreement, title="", text="One.")
    for action in (therapy.adopt_suggestion, therapy.set_aside_suggestion):
        with pytest.raises(PermissionError):
            action(partner=other_couple[0], suggestion_id=suggestion.pk)
    assert Suggestion.objects.get(pk=suggestion.pk).is_open


def test_suggesting_needs_a_live_access_to_that_couple(live, agreement, couple, other_couple, dana):
    rita = make_user("rita@example.com", "Rita", therapist=True)
    theirs = rules_of(other_couple[0])[0]
    with pytest.raises(PermissionError):
        therapy.suggest_rule(therapist=rita, agreement=agreement, title="", text="Hi.")
    with pytest.raises(PermissionError):
        therapy.suggest_wording(therapist=dana, rule=theirs, title="", text="Hi.")
    therapy.end_access(partner=couple[1], access_id=live.pk)
    with pytest.raises(PermissionError):
        therapy.suggest_rule(therapist=dana, agreement=agreement, title="", text="Hi.")
    assert not Suggestion.objects.exists()


def test_a_suggestion_already_made_stays_the_couples_after_access_ends(
    live, agreement, couple, dana
):
    suggestion = therapy.suggest_rule(therapist=dana, agreement=agreement, title="", text="One.")
    therapy.end_access(therapist=dana, access_id=live.pk)
    therapy.adopt_suggestion(partner=couple[0], suggestion_id=suggestion.pk)
    assert Suggestion.objects.get(pk=suggestion.pk).status == Suggestion.Status.ADOPTED


def test_unchanged_or_empty_wording_and_archived_rules_are_refused(live, couple, dana):
    rule = rules_of(couple[0])[0]
    shown = rule.shown_version
    with pytest.raises(NothingChanged):
        therapy.suggest_wording(therapist=dana, rule=rule, title=shown.title, text=shown.text)
    with pytest.raises(ConsentError):
        therapy.suggest_wording(therapist=dana, rule=rule, title="T", text="   ")
    consent.archive(partner=couple[0], rule=rule)
    with pytest.raises(ConsentError):
        therapy.suggest_wording(therapist=dana, rule=rule, title="T", text="New.")
    assert not Suggestion.objects.exists()


def test_adopting_wording_for_a_rule_archived_since_is_refused_and_changes_nothing(
    live, couple, dana
):
    rule = rules_of(couple[0])[0]
    suggestion = therapy.suggest_wording(therapist=dana, rule=rule, title="T", text="New.")
    consent.archive(partner=couple[1], rule=rule)
    rows = consent_rows()
    with pytest.raises(ConsentError):
        therapy.adopt_suggestion(partner=couple[0], suggestion_id=suggestion.pk)
    assert consent_rows() == rows
    assert Suggestion.objects.get(pk=suggestion.pk).is_open


# -- session notes --------------------------------------------------------------------------------


def test_session_notes_are_read_by_their_author_only(live, agreement, couple, dana, alice):
    rita = make_user("rita@example.com", "Rita", therapist=True)
    grant(couple, rita)
    revision = Agreement.objects.get(pk=agreement.pk).revision
    therapy.save_session_note(therapist=dana, agreement=agreement, text="Bob seemed tense.")
    therapy.save_session_note(therapist=dana, agreement=agreement, text="Bob seemed calmer.")
    therapy.save_session_note(therapist=rita, agreement=agreement, text="Rita's own.")

    assert therapy.session_note(dana, agreement).text == "Bob seemed calmer."
    assert therapy.session_note(rita, agreement).text == "Rita's own."
    assert SessionNote.objects.count() == 2
    # Nothing in the couple's ledger or export: the couple never sees them.
    assert Agreement.objects.get(pk=agreement.pk).revision == revision
    assert "calmer" not in str(privacy.export_data(alice))
    assert "calmer" in str(privacy.export_data(dana))
    assert "Bob seemed calmer." in privacy.export_markdown(dana)
    assert "calmer" not in str(privacy.export_data(rita)) + privacy.export_markdown(rita)
    assert "calmer" not in privacy.export_markdown(alice)


def test_a_session_note_needs_a_live_access_and_goes_with_the_therapists_account(
    live, agreement, couple, dana
):
    therapy.save_session_note(therapist=dana, agreement=agreement, text="Kept.")
    therapy.end_access(partner=couple[0], access_id=live.pk)
    with pytest.raises(PermissionError):
        therapy.save_session_note(therapist=dana, agreement=agreement, text="Late.")
    assert therapy.session_note(dana, agreement).text == "Kept."
    dana.delete()
    assert not SessionNote.objects.exists()


# -- exercises ------------------------------------------------------------------------------------


def test_an_exercise_is_a_check_in_ready_to_start_for_both_partners(live, agreement, couple, dana):
    rule = rules_of(couple[0])[2]
    invitation = therapy.invite_to_checkin(
        therapist=dana, agreement=agreement, prompt="What felt good this week?", rule=rule
    )
    assert list(therapy.pending_exercises(agreement)) == [invitation]
    assert invitation.therapist_name == "Dana"
    started = therapy.start_exercise(partner=couple[1], invitation_id=invitation.pk)
    assert started.started_by == couple[1]
    assert list(therapy.pending_exercises(agreement)) == []
    assert Event.objects.filter(kind=Kind.CHECKIN_INVITED, therapist=dana, rule=rule).exists()


def test_an_exercise_needs_a_prompt_a_live_access_and_a_rule_of_that_couple(
    live, agreement, other_couple, couple, dana
):
    with pytest.raises(ConsentError):
        therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt="  ")
    with pytest.raises(ConsentError):
        therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt="x" * 501)
    with pytest.raises(PermissionError):
        therapy.invite_to_checkin(
            therapist=dana, agreement=agreement, prompt="Hi", rule=rules_of(other_couple[0])[0]
        )
    therapy.end_access(partner=couple[0], access_id=live.pk)
    with pytest.raises(PermissionError):
        therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt="Hi")
    assert list(therapy.pending_exercises(agreement)) == []


# -- the demo -------------------------------------------------------------------------------------


def test_seed_demo_gives_dana_an_open_link_and_carol_and_dave_their_suggestions(
    db, settings, client
):
    import io
    import re

    from django.core.management import call_command

    from tests.conftest import PASSWORD, reauthenticate

    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=(again := io.StringIO()))
    first = re.search(r"^client link \(dana\): (\S+)$", out.getvalue(), re.M).group(1)
    second = re.search(r"^client link \(dana\): (\S+)$", again.getvalue(), re.M).group(1)
    dana = User.objects.get(email="dana@example.com")
    assert len(therapy.open_links(dana)) == 1  # the latest run's; the earlier one is cancelled

    shared = TherapistAccess.objects.get(therapist=dana, status="active")
    assert shared.scope == Scope.HISTORY
    assert {c.user.email for c in shared.agreement.couple.partners.all()} == {
        "carol@example.com",
        "dave@example.com",
    }
    assert sorted(Suggestion.objects.values_list("status", flat=True)) == ["adopted", "open"]

    alice = User.objects.get(email="alice@example.com")
    alice.set_password(PASSWORD)
    alice.save()
    client.force_login(alice)
    reauthenticate(client, alice)
    path = "/" + second.split("/", 3)[3]
    assert client.get(path).status_code == 200
    assert client.get("/" + first.split("/", 3)[3]).status_code == 404


def test_an_exercise_starts_as_the_couples_check_in_from_the_check_ins_page(
    live, agreement, couple, dana, alice, bob
):
    from checkins.models import CheckIn
    from tests.conftest import client_for

    rule = rules_of(couple[0])[1]
    invitation = therapy.invite_to_checkin(
        therapist=dana, agreement=agreement, prompt="What felt good?", rule=rule
    )
    bob_client = client_for(bob)
    listed = bob_client.get(reverse("checkins:list")).content.decode()
    assert f'data-exercise="{invitation.pk}"' in listed and "What felt good?" in listed
    response = bob_client.post(reverse("checkins:start_exercise", args=[invitation.pk]))
    checkin = CheckIn.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("checkins:checkin", args=[checkin.pk])
    assert checkin.topic == "What felt good?"
    assert list(checkin.rules.all()) == [rule]
    assert list(therapy.pending_exercises(agreement)) == []
    # Started once: the other partner's click finds nothing left to start.
    again = client_for(alice).post(reverse("checkins:start_exercise", args=[invitation.pk]))
    assert again.status_code == 302 and CheckIn.objects.count() == 1


def test_only_the_couple_can_start_their_exercise(live, agreement, dana, other_couple, mallory):
    from tests.conftest import client_for

    invitation = therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt="Hi")
    for outsider in (other_couple[0].user, mallory):
        url = reverse("checkins:start_exercise", args=[invitation.pk])
        assert client_for(outsider).post(url).status_code == 404
    assert list(therapy.pending_exercises(agreement)) == [invitation]


def test_the_timeline_names_the_suggestion_set_aside(live, agreement, couple, dana):
    alice, _ = couple
    titled = therapy.suggest_rule(
        therapist=dana, agreement=agreement, title="Slow Sundays", text="We keep Sunday slow."
    )
    untitled = therapy.suggest_rule(
        therapist=dana, agreement=agreement, title="", text="We hold hands before we talk."
    )
    therapy.set_aside_suggestion(partner=alice, suggestion_id=titled.pk)
    therapy.set_aside_suggestion(partner=alice, suggestion_id=untitled.pk)
    html = " ".join(client_for(alice.user).get("/agreement/timeline/").content.decode().split())
    assert "suggestion “<bdi>Slow Sundays</bdi>”" in html
    assert "suggestion “<bdi>We hold hands before we talk.</bdi>”" in html
