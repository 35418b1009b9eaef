"""Who answered the wording waiting on a rule, and who may know it: the one reading, for every
screen and service.

A wording is put on the table by a proposal, a restore or a reopen; every such event starts a
new round, and only the answers given since count. In a round each partner holds at most one
answer, their latest: Accept (a live acceptance), Not yet or Decline, each with its note. Putting
a wording on the table is its author's yes. The nine defaults, and a rule restored without an
author, wait for both.

An answer is sealed (`Event.private_to`) until every current partner has answered the wording:
then the answers that stand are unsealed together (consent.py), and an answer changed before
that stays sealed for good. Whoever reads answers reads them here, through `Round.seen_by`: the
cards, the summary, `Rule.waits_for`, the ledger, the exports and the therapist's pages.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from accounts.models import FORMER_PARTNER, Partner
from agreements.models import Acceptance, Event, Rule

Kind = Event.Kind
# Events that answer a wording, or follow from answers; any other event on a version (proposed,
# restored, reopened ...) puts it on the table afresh and starts a new round.
ANSWER_KINDS = frozenset(
    {Kind.ACCEPTED, Kind.NOT_YET, Kind.DECLINED, Kind.IN_FORCE, Kind.COMMENTED}
)
ANSWERS = frozenset({Kind.ACCEPTED, Kind.NOT_YET, Kind.DECLINED})
# A partner's yes to the wording ends without a new round: their answer no longer stands.
YES_ENDED = frozenset({Kind.TOOK_BACK, Kind.WITHDREW})
# What happens at a review is about the wording in force, never a round of a waiting wording.
REVIEW_KINDS = frozenset({Kind.KEEP_ANSWER, Kind.KEPT, Kind.LET_REST, Kind.LAPSED})


class Names:
    """Partners' names by seat id: the seats the gate read, or read here on first use (the
    services ask who answered, never their names)."""

    def __init__(self, seats: dict[int, Partner] | None, ids: set[int]):
        self._seats, self._ids = seats, ids

    def __getitem__(self, seat_id: int) -> str:
        if self._seats is None:
            query = Partner.objects.filter(pk__in=self._ids).select_related("user")
            self._seats = {p.pk: p for p in query}
        seat = self._seats.get(seat_id)
        return seat.name if seat is not None else FORMER_PARTNER


@dataclass(frozen=True)
class Answer:
    """One partner's answer in this round, as the ledger has it."""

    partner_id: int
    kind: str  # accepted, not_yet or declined
    note: str
    at: datetime
    sealed: bool  # seen only by its author, until both have answered
    event_id: int | None = None  # None: the yes of the partner who put the wording on the table
    names: Names | None = field(default=None, compare=False, repr=False)
    note_removed: bool = False  # its author removed their words (Event.note_removed)

    @property
    def name(self) -> str:
        return self.names[self.partner_id] if self.names is not None else FORMER_PARTNER

    @classmethod
    def of(cls, event: Event, **more) -> "Answer":
        """The answer an event of the ledger records, sealed while it is private to its author."""
        return cls(
            event.partner_id,
            event.kind,
            event.note,
            event.created_at,
            sealed=event.private_to_id is not None,
            event_id=event.pk,
            **more,
        )


@dataclass
class Round:
    """One waiting wording as it stands now."""

    version_id: int
    started_at: datetime | None = None
    proposal_note: str = ""
    proposal_note_removed: bool = False
    # Live acceptances of the wording: seat id → since when (the state machine's truth).
    accepted_at: dict[int, datetime] = field(default_factory=dict)
    # Each partner's latest answer in this round.
    answers: dict[int, Answer] = field(default_factory=dict)

    def answered_by(self, seat_id: int | None) -> bool:
        return seat_id is not None and (seat_id in self.accepted_at or seat_id in self.answers)

    def sealed_answer_of(self, seat_id: int | None) -> Answer | None:
        """This partner's own answer while it is still sealed."""
        answer = self.answers.get(seat_id) if seat_id is not None else None
        return answer if answer is not None and answer.sealed else None

    def seen_by(self, seat_id: int | None) -> list[Answer]:
        """The answers one person may know of: their own, and every unsealed one. `seat_id`
        None: a therapist, who sees only unsealed answers."""
        return [a for a in self.answers.values() if not a.sealed or a.partner_id == seat_id]

    def revealed_with(self, seat_id: int, partner_ids: Iterable[int]) -> bool:
        """Whether an answer `seat_id` gives now completes the round: every other current
        partner has answered already."""
        return all(self.answered_by(p) for p in partner_ids if p != seat_id)


EMPTY = Round(version_id=0)


def on_the_table(rule: Rule) -> int | None:
    """The wording whose answers a card shows: the one waiting, or one a partner declined while
    the other's yes to it may still stand (Rule.declined_version_id)."""
    return rule.pending_version_id or rule.declined_version_id


def rounds_for(rules: Iterable[Rule], seats: dict[int, Partner] | None = None) -> dict[int, Round]:
    """The current round of every rule with a wording on the table, by version id: two queries
    for any number of rules, none when nothing is. `seats`: the couple's seats by id, as the
    gate read them, for the answers' names (read here, in one more query, when not given)."""
    pending = {on_the_table(r) for r in rules} - {None}
    rounds = {version_id: Round(version_id) for version_id in pending}
    if not rounds:
        return rounds
    events = list(
        Event.objects.filter(version_id__in=pending)
        .only(
            "version_id",
            "kind",
            "partner_id",
            "note",
            "note_removed",
            "created_at",
            "private_to_id",
        )
        .order_by("created_at", "pk")
    )
    live = list(
        Acceptance.objects.filter(version_id__in=pending, withdrawn_at__isnull=True).values_list(
            "version_id", "partner_id", "created_at"
        )
    )
    names = Names(seats, {e.partner_id for e in events} | {p for _, p, _ in live})
    for event in events:
        current = rounds[event.version_id]
        if event.kind in REVIEW_KINDS:
            continue
        if event.kind in YES_ENDED:
            current.answers.pop(event.partner_id, None)
        elif event.kind not in ANSWER_KINDS:
            current.started_at = event.created_at
            current.proposal_note = event.note
            current.proposal_note_removed = event.note_removed
            current.answers = {}
            if event.partner_id:  # putting a wording on the table is its author's yes
                current.answers[event.partner_id] = Answer(
                    event.partner_id, Kind.ACCEPTED, "", event.created_at, False, names=names
                )
        elif event.kind in ANSWERS and event.partner_id:
            current.answers[event.partner_id] = Answer.of(
                event, names=names, note_removed=event.note_removed
            )
    for version_id, partner_id, at in live:
        current = rounds[version_id]
        current.accepted_at[partner_id] = at
        if partner_id not in current.answers:  # accepted before the ledger said so (older data)
            current.answers[partner_id] = Answer(
                partner_id, Kind.ACCEPTED, "", at, sealed=False, names=names
            )
    return rounds


def round_of(rule: Rule, rounds: dict[int, Round] | None = None) -> Round:
    """This rule's current round, from `rounds` (read for the page) or read for it alone."""
    version_id = on_the_table(rule)
    if version_id is None:
        return EMPTY
    if rounds is None:
        rounds = rounds_for([rule])
    return rounds.get(version_id) or Round(version_id)


# -- reviews ----------------------------------------------------------------------------------


@dataclass
class Review:
    """The Keep it answers to a rule's review due now: each partner's, sealed until both have
    kept it (then the rule is kept and the review moves on, so an open review never shows both).
    Let it rest and Change it are not held here: each acts at once (a withdrawal, a proposal)."""

    rule_id: int
    kept: dict[int, Answer] = field(default_factory=dict)

    @property
    def kept_by(self) -> set[int]:
        return set(self.kept)

    def seen_by(self, seat_id: int | None) -> list[Answer]:
        """Only one's own Keep it, and any unsealed one; a therapist (None) sees none sealed."""
        return [a for a in self.kept.values() if not a.sealed or a.partner_id == seat_id]


def reviews_for(rules: Iterable[Rule]) -> dict[int, Review]:
    """The open review of every rule due for review, by rule id: one query for any number of
    rules, none when none is due. The answers given since the rule's review moment count."""
    due = {r.pk: r for r in rules if r.review_due}
    reviews = {pk: Review(pk) for pk in due}
    if not due:
        return reviews
    events = Event.objects.filter(rule_id__in=list(due), kind=Kind.KEEP_ANSWER).only(
        "rule_id", "version_id", "partner_id", "note", "created_at", "private_to_id"
    )
    for event in events.order_by("created_at", "pk"):
        rule = due[event.rule_id]
        if event.version_id != rule.current_version_id or event.created_at < rule.review_at:
            continue
        reviews[rule.pk].kept[event.partner_id] = Answer.of(event)
    return reviews


def review_of(rule: Rule, reviews: dict[int, Review] | None = None) -> Review | None:
    """This rule's open review (None when it is not due), from `reviews` or read for it alone."""
    if not rule.review_due:
        return None
    if reviews is None:
        reviews = reviews_for([rule])
    return reviews.get(rule.pk) or Review(rule.pk)
