"""Blind until you answer: a partner never learns whether the other accepted a proposal before
giving their own answer. The one predicate, for every screen (cards, summary, timeline, history).

An acceptance of the wording waiting on a rule (its pending version) by someone other than the
viewer is hidden while the viewer has not answered that wording in this round: no live acceptance
of theirs, no "not yet" or "decline" of theirs since the wording was last put on the table.
Therapists see no acceptance of a wording still waiting at all (they would otherwise see what one
partner cannot). Not yet and Decline are never hidden: they are messages to the other partner.
Once the wording is no longer waiting (in force, declined, replaced) everything is shown.
"""

from collections.abc import Iterable
from datetime import datetime

from agreements.access import Viewer
from agreements.models import Acceptance, Event, Rule
from agreements.rounds import Round, rounds_for

Kind = Event.Kind


def acceptance_visible(viewer: Viewer, *, partner_id: int, answered: bool) -> bool:
    """May this viewer see that `partner_id` accepted the wording still waiting on a rule?
    `answered`: whether the viewer answered that wording (see `Round.answered_by`). Only ask
    about acceptances of a rule's pending version: every other acceptance is visible."""
    if viewer.is_therapist:
        return False
    return partner_id == viewer.seat_id or answered


def visible_to(viewer: Viewer, acceptance: Acceptance, *, rule: Rule, rounds: dict) -> bool:
    """May this viewer see this acceptance row? `rounds`: `rounds.rounds_for(rules)` of the
    page's rules (two queries for the whole page). For the cards: `[a for a in live if visible_to(...)]`."""
    if acceptance.version_id != rule.pending_version_id:
        return True
    current: Round | None = rounds.get(acceptance.version_id)
    answered = current is not None and current.answered_by(viewer.seat_id)
    return acceptance_visible(viewer, partner_id=acceptance.partner_id, answered=answered)


def hidden_acceptances(viewer: Viewer, rules: Iterable[Rule]) -> list[tuple[int, int, datetime]]:
    """(pending version id, partner id, accepted at) of every live acceptance the viewer may not
    see yet."""
    hidden = []
    for current in rounds_for(list(rules)).values():
        answered = current.answered_by(viewer.seat_id)
        for partner_id, at in current.accepted_at.items():
            if not acceptance_visible(viewer, partner_id=partner_id, answered=answered):
                hidden.append((current.version_id, partner_id, at))
    return hidden


def hidden_event_ids(viewer: Viewer, rules: Iterable[Rule]) -> set[int]:
    """The `accepted` events the viewer may not see: those that made a hidden acceptance."""
    hidden = hidden_acceptances(viewer, rules)
    if not hidden:
        return set()
    found: set[int] = set()
    candidates = Event.objects.filter(
        kind=Kind.ACCEPTED, version_id__in={version_id for version_id, _, _ in hidden}
    ).values_list("pk", "version_id", "partner_id", "created_at")
    for pk, version_id, partner_id, at in candidates:
        for hidden_version, hidden_partner, accepted_at in hidden:
            if (version_id, partner_id) == (hidden_version, hidden_partner) and at >= accepted_at:
                found.add(pk)
    return found
