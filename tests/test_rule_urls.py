"""Every rule URL a person can GET, for every rule in every state, as each partner, the
therapist and an outsider: never a 500 (the no-JavaScript path opens forms on pages of their
own), and an outsider learns nothing (404)."""

import pytest
from django.urls import reverse

from agreements.stories import agreement_in_every_state, grant_therapist
from tests.conftest import agreement_of, client_for

PARTNER_URLS = (
    "history",
    "card",
    "not_yet",
    "decline",
    "change",
    "withdraw",
)


@pytest.mark.parametrize("name", PARTNER_URLS)
def test_no_rule_url_answers_500_in_any_state_for_anyone(name, couple, dana_2fa, mallory):
    rules = agreement_in_every_state(*couple)
    grant_therapist(couple, dana_2fa)
    agreement = agreement_of(couple[0])
    partners = [client_for(seat.user) for seat in couple]
    outsider = client_for(mallory)
    therapist = client_for(dana_2fa)
    seen = {}
    for state, rule in rules.items():
        path = reverse(f"agreements:{name}", args=[rule.pk])
        for who, client in zip(("alice", "bob"), partners, strict=True):
            for htmx in (False, True):
                response = client.get(path, headers={"hx-request": "true"} if htmx else {})
                seen[(state, who, htmx)] = response.status_code
        assert outsider.get(path).status_code == 404
        assert therapist.get(path).status_code == 404
        history = reverse("therapist:history", args=[agreement.pk, rule.pk])
        assert therapist.get(history).status_code == 200
    assert [key for key, status in seen.items() if status >= 500] == []
    assert set(seen.values()) <= {200, 302}


def test_an_answer_that_names_no_answer_records_nothing_and_says_so(couple, alice_client):
    rule = agreement_in_every_state(*couple)["waiting_for_a"]
    events = rule.events.count()
    path = reverse("agreements:answer", args=[rule.pk])
    response = alice_client.post(path, {"version": rule.pending_version_id, "note": "Hm"})
    assert response.status_code == 422
    assert "Nothing was recorded" in response.content.decode()
    assert rule.events.count() == events


def test_the_answer_forms_own_action_records_the_button_that_was_pressed(couple, alice_client):
    """A client that ignores formaction posts the form to its own action with the button's
    name and value: that answer, and no other, is recorded."""
    rule = agreement_in_every_state(*couple)["waiting_for_a"]
    page = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert f'action="{reverse("agreements:answer", args=[rule.pk])}"' in page
    response = alice_client.post(
        reverse("agreements:answer", args=[rule.pk]),
        {"version": rule.pending_version_id, "note": "Sunday?", "answer": "not_yet"},
    )
    assert response.status_code == 302
    assert rule.events.latest("created_at", "pk").kind == "not_yet"
