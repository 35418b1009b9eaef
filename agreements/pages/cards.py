"""What a rule card shows to one viewer: derived from the rule, never stored."""

from dataclasses import dataclass, field
from functools import cache, cached_property

from django import forms
from django.urls import reverse

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.forms import VersionForm, WordingForm
from agreements.models import Event, Rule

State = Rule.State

ACTIONS = (
    "history",
    "accept",
    "not_yet",
    "decline",
    "change",
    "withdraw",
    "archive",
    "restore",
    "card",
)
# Reversing about seventy URLs for every page costs more than the rest of a card: each action's
# URL is reversed once, for a stand-in id, and the stand-in replaced by each rule's id.
_STAND_IN = 987654321


@cache
def _url_patterns() -> dict[str, str]:
    return {action: reverse(f"agreements:{action}", args=[_STAND_IN]) for action in ACTIONS}


def rule_urls(rule_id: int) -> dict[str, str]:
    stand_in, real = str(_STAND_IN), str(rule_id)
    return {action: url.replace(stand_in, real) for action, url in _url_patterns().items()}


@dataclass
class OpenForm:
    """The form a card holds open for one action (a change, a note with Not yet or Decline)."""

    kind: str
    form: forms.Form
    action: str

    @property
    def submit_label(self) -> str:
        return {"change": "Propose this wording", "not_yet": "Not yet"}.get(self.kind, "Decline")


@dataclass
class Answer:
    """One partner's latest answer to the wording waiting on a rule."""

    partner_id: int
    name: str
    kind: str  # "accepted" or "not_yet"
    note: str = ""


@dataclass
class Card:
    rule: Rule
    number: int
    viewer: Viewer
    # Every answer to the waiting wording this viewer may see (blind: the other partner's
    # acceptance only once the viewer has answered too).
    answers: list[Answer] = field(default_factory=list)
    my_answer: Answer | None = None
    proposed_by: str = ""
    proposal_note: str = ""
    diff: list[Segment] | None = None
    error: str = ""
    open_form: OpenForm | None = None
    other_name: str = ""

    @property
    def accepted_by_me(self) -> bool:
        return self.my_answer is not None and self.my_answer.kind == "accepted"

    @property
    def is_mine(self) -> bool:
        """The waiting wording is this viewer's own proposal: theirs to take back, not answer."""
        waiting = self.waiting
        return (
            waiting is not None
            and waiting.author_id is not None
            and (waiting.author_id == self.viewer.seat_id)
        )

    @property
    def needs_you(self) -> bool:
        """True exactly when this viewer's answer is what the rule waits for."""
        return self.may_answer and self.my_answer is None and not self.is_mine

    @property
    def other_answers(self) -> list[Answer]:
        return [a for a in self.answers if a.partner_id != self.viewer.seat_id]

    @property
    def status(self) -> str:
        """The card's state in plain words, for this viewer."""
        state = self.rule.state
        if state == State.ACTIVE:
            return "In force · change proposed" if self.rule.pending_version_id else "In force"
        if state != State.PROPOSED:
            return {State.PAUSED: "Resting", State.DECLINED: "Not agreed"}.get(state, "Archived")
        if self.needs_you:
            return "Waiting for you"
        if self.my_answer is not None and self.my_answer.kind == "not_yet":
            return "You said not yet"
        for answer in self.other_answers:
            if answer.kind == "not_yet":
                return f"{answer.name} said not yet"
        if self.viewer.is_partner and self.other_name:
            return f"Waiting for {self.other_name}"
        return "Waiting for an answer"

    @cached_property
    def urls(self) -> dict[str, str]:
        """The URLs of this rule's actions and history, for this viewer."""
        if self.viewer.is_therapist:
            agreement_id = self.rule.agreement_id
            return {"history": reverse("therapist:history", args=[agreement_id, self.rule.pk])}
        return rule_urls(self.rule.pk)

    @property
    def history_url(self) -> str | None:
        """A former partner reads the archive as it is, without the rules' histories."""
        return None if self.viewer.is_former else self.urls["history"]

    @property
    def waiting(self):
        return self.rule.pending_version

    @property
    def may_act(self) -> bool:
        return self.viewer.may_act

    @property
    def may_answer(self) -> bool:
        return self.may_act and self.waiting is not None

    @property
    def may_accept(self) -> bool:
        return self.may_answer and not self.accepted_by_me

    @property
    def may_withdraw(self) -> bool:
        return self.may_act and self.rule.state == State.ACTIVE

    @property
    def may_change(self) -> bool:
        return self.may_act and self.rule.state != State.ARCHIVED

    @property
    def may_archive(self) -> bool:
        return self.may_act and self.rule.state not in (State.ACTIVE, State.ARCHIVED)

    @property
    def may_restore(self) -> bool:
        return self.may_act and self.rule.state == State.ARCHIVED

    @property
    def draft(self):
        """The wording a change starts from: the newest one still on the table."""
        return self.rule.pending_version or self.rule.current_version or self.rule.latest_version

    def open(self, kind: str, form: forms.Form | None = None) -> "Card":
        """This card holding the form for `kind`, unless the rule has moved on and there is
        nothing left to answer or change (then the card is shown as it is)."""
        if not (self.may_change if kind == "change" else self.may_answer):
            return self
        if form is None:
            form = self.blank_form(kind)
        self.open_form = OpenForm(kind=kind, form=form, action=self.urls[kind])
        return self

    def blank_form(self, kind: str) -> forms.Form:
        auto_id = f"%s-{self.rule.pk}"
        if kind == "change":
            draft = self.draft
            return WordingForm(initial={"title": draft.title, "text": draft.text}, auto_id=auto_id)
        form = VersionForm(initial={"version": self.waiting.pk}, auto_id=auto_id)
        if kind == "not_yet":
            form.fields["note"].widget.attrs["placeholder"] = "I'd like to talk about this first"
        return form


def make_card(
    rule: Rule, number: int, viewer: Viewer, notes: dict | None = None, other_name: str = ""
) -> Card:
    """`notes`: the latest "not yet" of each partner to each waiting version, as read once for
    the page by `not_yet_notes`; without it they are read for this rule alone. `other_name`:
    the viewer's partner, by name."""
    card = Card(rule=rule, number=number, viewer=viewer, other_name=other_name)
    waiting = rule.pending_version
    if waiting is None:
        return card
    live = getattr(waiting, "live_acceptances", None)
    if live is None:
        live = list(
            waiting.acceptances.filter(withdrawn_at__isnull=True).select_related("partner__user")
        )
    if notes is None:
        notes = not_yet_notes([rule])
    answers = {a.partner_id: Answer(a.partner_id, a.partner.name, "accepted") for a in live}
    for partner_id, (name, note) in notes.get(waiting.pk, {}).items():
        answers.setdefault(partner_id, Answer(partner_id, name, "not_yet", note))
    card.my_answer = answers.get(viewer.seat_id)
    if waiting.author_id is not None:
        card.proposed_by = waiting.author.name
        card.proposal_note = notes.get(("proposal", waiting.pk), "")
    sees_acceptances = card.my_answer is not None and not viewer.is_therapist
    card.answers = [
        a
        for a in answers.values()
        if a.partner_id != waiting.author_id
        and (a.kind == "not_yet" or sees_acceptances or a.partner_id == viewer.seat_id)
    ]
    base = rule.current_version or waiting.previous
    if base is not None and base.pk != waiting.pk:
        card.diff = word_diff(base.text, waiting.text)
    return card


def not_yet_notes(rules) -> dict:
    """For each waiting version: each partner's latest "not yet" (their name and note), and the
    note its proposer sent with it, in one query for the page."""
    waiting = [r.pending_version_id for r in rules if r.pending_version_id]
    if not waiting:
        return {}
    kinds = [Event.Kind.NOT_YET, Event.Kind.PROPOSED_RULE, Event.Kind.PROPOSED_CHANGE]
    notes: dict = {}
    for event in (
        Event.objects.filter(version_id__in=waiting, kind__in=kinds)
        .select_related("partner__user")
        .order_by("created_at", "pk")
    ):
        if event.kind == Event.Kind.NOT_YET:
            notes.setdefault(event.version_id, {})[event.partner_id] = (
                event.partner.name,
                event.note,
            )
        else:
            notes[("proposal", event.version_id)] = event.note
    return notes


def make_cards(
    rules, viewer: Viewer, other_name: str = "", notes: dict | None = None
) -> list[Card]:
    """`notes`: as `not_yet_notes(rules)` gives them (read here when not given)."""
    if notes is None:
        notes = not_yet_notes(rules)
    return [make_card(rule, rule.position, viewer, notes, other_name) for rule in rules]


def summary(cards: list[Card]) -> dict:
    live = [c for c in cards if c.rule.state != State.ARCHIVED]
    return {
        "in_force": sum(c.rule.state == State.ACTIVE for c in live),
        "total": len(live),
        "waiting": sum(c.waiting is not None for c in live),
        "needs_you": [c for c in live if c.needs_you],
        "resting": sum(c.rule.state == State.PAUSED for c in live),
    }
