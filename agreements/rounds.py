"""Who answered the wording waiting on a rule: the one reading, for every screen and service.

A wording is put on the table by a proposal, a restore or a reopen; every such event starts a
new round, and only the answers given since count. In a round each partner holds at most one
answer: a live acceptance of the wording, or a spoken "not yet" or "decline" (a later acceptance
replaces it). The cards, the summary, blind-until-you-answer, the timeline and
`Rule.waits_for` all read rounds from here, so they cannot disagree.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from accounts.models import FORMER_PARTNER
from agreements.models import Acceptance, Event, Rule

Kind = Event.Kind
# Events that answer a wording, or follow from answers; any other event on a version (proposed,
# restored, reopened ...) puts it on the table afresh and starts a new round.
ANSWER_KINDS = frozenset(
    {Kind.ACCEPTED, Kind.NOT_YET, Kind.DECLINED, Kind.IN_FORCE, Kind.COMMENTED}
)
SPOKEN = frozenset({Kind.NOT_YET, Kind.DECLINED})


@dataclass(frozen=True)
class Spoken:
    """A "not yet" or "decline" given in this round, with its note."""

    partner_id: int
    name: str
    kind: str
    note: str
    at: datetime


@dataclass
class Round:
    """One waiting wording as it stands now."""

    version_id: int
    started_at: datetime | None = None
    proposal_note: str = ""
    # Live acceptances of the wording: seat id → since when.
    accepted_at: dict[int, datetime] = field(default_factory=dict)
    # Not yet and decline said in this round and not replaced by an acceptance since.
    spoken: dict[int, Spoken] = field(default_factory=dict)
    # The names of the partners who answered, by seat id.
    names: dict[int, str] = field(default_factory=dict)

    def answered_by(self, seat_id: int | None) -> bool:
        return seat_id is not None and (seat_id in self.accepted_at or seat_id in self.spoken)

    def not_yet(self) -> list[Spoken]:
        return [s for s in self.spoken.values() if s.kind == Kind.NOT_YET]


EMPTY = Round(version_id=0)


def rounds_for(rules: Iterable[Rule]) -> dict[int, Round]:
    """The current round of every rule with a wording waiting, by pending version id: two queries
    for any number of rules, none when nothing waits."""
    pending = {r.pending_version_id for r in rules if r.pending_version_id}
    rounds = {version_id: Round(version_id) for version_id in pending}
    if not rounds:
        return rounds
    events = (
        Event.objects.filter(version_id__in=pending)
        .select_related("partner__user")
        .only(
            "version_id", "kind", "partner_id", "note", "created_at", "partner__user__display_name"
        )
        .order_by("created_at", "pk")
    )
    for event in events:
        current = rounds[event.version_id]
        if event.kind not in ANSWER_KINDS:
            current.started_at = event.created_at
            current.proposal_note = event.note
            current.spoken = {}
        elif event.kind in SPOKEN and event.partner_id:
            current.spoken[event.partner_id] = Spoken(
                event.partner_id, event.partner.name, event.kind, event.note, event.created_at
            )
        elif event.kind == Kind.ACCEPTED and event.partner_id:
            current.spoken.pop(event.partner_id, None)
    live = Acceptance.objects.filter(version_id__in=pending, withdrawn_at__isnull=True).values_list(
        "version_id", "partner_id", "created_at", "partner__user_id", "partner__user__display_name"
    )
    for version_id, partner_id, at, user_id, display_name in live:
        rounds[version_id].accepted_at[partner_id] = at
        rounds[version_id].spoken.pop(partner_id, None)
        rounds[version_id].names[partner_id] = display_name if user_id else FORMER_PARTNER
    return rounds


def round_of(rule: Rule, rounds: dict[int, Round] | None = None) -> Round:
    """This rule's current round, from `rounds` (read for the page) or read for it alone."""
    if rule.pending_version_id is None:
        return EMPTY
    if rounds is None:
        rounds = rounds_for([rule])
    return rounds.get(rule.pending_version_id) or Round(rule.pending_version_id)
