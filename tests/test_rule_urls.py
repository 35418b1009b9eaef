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
