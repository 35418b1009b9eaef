"""What a rule card shows to one viewer: derived from the rule, never stored."""

from dataclasses import dataclass, field
from functools import cache, cached_property

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.forms import ProposalForm, VersionForm
from agreements.models import Event, Rule
from agreements.rounds import (
    Answer,
    Review,
    Round,
    on_the_table,
    review_of,
    reviews_for,
    round_of,
)
from intimacy.bidi import fill, isolate

State = Rule.State
Kind = Event.Kind
# "You accepted — sealed until Sam answers": whole sentences, one per answer.
SEALED_WORDS = {
    Kind.ACCEPTED: gettext_lazy("You accepted — sealed until %(name)s answers"),
    Kind.NOT_YET: gettext_lazy("You said not yet — sealed until %(name)s answers"),
    Kind.DECLINED: gettext_lazy("You declined — sealed until %(name)s answers"),
}

ACTIONS = (
    "history",
    "take_back",
    "reopen",
    "answer",
    "accept",
    "not_yet",
    "decline",
    "change",
    "withdraw",
    "archive",
    "restore",
    "keep",
    "let_rest",
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
        if self.kind == "change":
            return _("Propose this wording")
        return pgettext("answer", "Not yet") if self.kind == "not_yet" else _("Decline")


@dataclass
class Card:
    rule: Rule
    number: int
    viewer: Viewer
    # Every answer to the waiting wording this viewer may see (rounds.Round.seen_by: their own,
    # and the others' once both have answered), but the proposer's own yes ("Proposed by").
    answers: list[Answer] = field(default_factory=list)
    my_answer: Answer | None = None
    proposed_by: str = ""
    proposal_note: str = ""
    proposal_note_removed: bool = False
    diff: list[Segment] | None = None
    error: str = ""
    open_form: OpenForm | None = None
    other_name: str = ""
    # The waiting wording's current round (agreements/rounds.py), None when nothing waits.
    round: Round | None = None
    # The open review of a rule due for review (rounds.reviews_for), None when not due.
    review: Review | None = None
    # The comments on this rule, with their authors (pages.agreement.comments_by_rule).
    comments: list = field(default_factory=list)

    # -- reviews ------------------------------------------------------------------------------

    @property
    def review_due(self) -> bool:
        return self.review is not None

    @property
    def my_keep(self) -> Answer | None:
        """This viewer's own Keep it in the open review (sealed until the other keeps it)."""
        if self.review is None or not self.viewer.is_partner:
            return None
        return self.review.kept.get(self.viewer.seat_id)

    @property
    def may_keep(self) -> bool:
        kept_by = self.review.kept_by if self.review is not None else set()
        return self.may_act and self.rule.may_keep(self.viewer.seat_id, kept_by)

    @property
    def may_let_rest(self) -> bool:
        return self._may("let_rest")

    @property
    def review_on(self):
        """The day the rule in force comes up for review (data-review-on), or None."""
        if self.rule.state != State.ACTIVE or self.rule.review_at is None:
            return None
        return self.rule.review_at

    @property
    def accepted_by_me(self) -> bool:
        return self.my_answer is not None and self.my_answer.kind == "accepted"

    @property
    def cooling_until(self):
        """Until when this viewer may not propose the rule again (the other declined it)."""
        if not self.viewer.is_partner:
            return None
        return self.rule.cooling_until(self.viewer.seat_id)

    @property
    def sealed(self) -> bool:
        """This viewer has answered, and the answer is still sealed (data-sealed)."""
        return self.my_answer is not None and self.my_answer.sealed

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
        """True exactly when this viewer's answer is what the rule waits for (Rule.waits_for,
        asked with the round the card was made from)."""
        return self.may_act and self.rule.waits_for(self.viewer.seat_id, self.round)

    @property
    def other_answers(self) -> list[Answer]:
        return [a for a in self.answers if a.partner_id != self.viewer.seat_id]

    @property
    def status(self) -> str:
        """The card's state in plain words, for this viewer (markup: a name in it is isolated)."""
        state = self.rule.state
        if state == State.ACTIVE and self.review_due:
            if self.my_keep is not None:
                return fill(
                    _("In force · you said keep it — sealed until %(name)s answers"),
                    {"name": isolate(self.other_name or _("your partner"))},
                )
            return _("In force · time to review")
        if state == State.ACTIVE:
            if self.rule.pending_version_id:
                return _("In force · change proposed")
            return _("In force")
        if state == State.PAUSED:
            if self.rule.pending_version_id:
                return _("Resting · new wording proposed")
            return pgettext("rule", "Resting")
        if state != State.PROPOSED:
            return _("Not agreed") if state == State.DECLINED else _("Archived")
        if self.needs_you:
            return _("Waiting for you")
        if self.sealed:
            return fill(
                str(SEALED_WORDS[self.my_answer.kind]),
                {"name": isolate(self.other_name or _("your partner"))},
            )
        if self.my_answer is not None and self.my_answer.kind == Kind.NOT_YET:
            return _("You said not yet")
        for answer in self.other_answers:
            if answer.kind == Kind.NOT_YET:
                return fill(_("%(name)s said not yet"), {"name": isolate(answer.name)})
        if self.viewer.is_partner and self.other_name:
            return fill(_("Waiting for %(name)s"), {"name": isolate(self.other_name)})
        return _("Waiting for an answer")

    @cached_property
    def urls(self) -> dict[str, str]:
        """The URLs of this rule's actions and history, for this viewer."""
        if self.viewer.is_therapist:
            args = [self.rule.agreement_id, self.rule.pk]
            return {
                "history": reverse("therapist:history", args=args),
                "suggest": reverse("therapist:suggest_wording", args=args),
            }
        return rule_urls(self.rule.pk)

    @property
    def history_url(self) -> str | None:
        """A former partner reads the archive as it is, without the rules' histories; a therapist
        sees them only when the couple shares their history."""
        if self.viewer.is_former or not self.viewer.sees_history:
            return None
        return self.urls["history"]

    @property
    def may_suggest(self) -> bool:
        """A therapist offers new wording; an archived rule would have to be restored first."""
        return self.viewer.is_therapist and self.rule.state != State.ARCHIVED

    @property
    def waiting(self):
        return self.rule.pending_version

    @property
    def may_act(self) -> bool:
        return self.viewer.may_act

    # What the card offers is what consent.py accepts: both ask the rule (Rule.may_*).
    def _may(self, question: str) -> bool:
        return self.may_act and getattr(self.rule, f"may_{question}")(self.viewer.seat_id)

    @property
    def may_answer(self) -> bool:
        return self._may("not_yet")

    @property
    def may_accept(self) -> bool:
        # The live acceptances of the waiting wording: the round's, read with the page's.
        return self.may_act and self.rule.may_accept(self.viewer.seat_id, self.standing_yes)

    @property
    def may_take_back(self) -> bool:
        return self._may("take_back")

    @property
    def may_withdraw(self) -> bool:
        return self.may_act and self.rule.may_withdraw(self.viewer.seat_id, self.standing_yes)

    @property
    def may_reopen(self) -> bool:
        return self._may("reopen") and not self.may_accept_declined

    @property
    def standing_yes(self) -> set[int]:
        """Who holds a live yes to the wording on the table (the round's acceptances)."""
        return set(self.round.accepted_at) if self.round is not None else set()

    @property
    def may_accept_declined(self) -> bool:
        """The one who declined, while the other's yes still stands."""
        return self.may_act and self.rule.may_accept_declined(
            self.viewer.seat_id, self.standing_yes
        )

    @property
    def may_take_back_yes(self) -> bool:
        return self.may_act and self.rule.may_take_back_yes(self.viewer.seat_id, self.standing_yes)

    @property
    def declined_is_mine(self) -> bool:
        """The declined wording is this viewer's own proposal."""
        return self.rule.latest_version.author_id == self.viewer.seat_id

    @property
    def may_change(self) -> bool:
        return self._may("change")

    @property
    def may_archive(self) -> bool:
        return self._may("archive")

    @property
    def may_restore(self) -> bool:
        return self._may("restore")

    @property
    def draft(self):
        return self.rule.draft

    @property
    def withdrawn_by_me(self) -> bool:
        return self.rule.withdrawn_by_id is not None and (
            self.rule.withdrawn_by_id == self.viewer.seat_id
        )

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
            initial = {"title": draft.title, "text": draft.text, "review_after": draft.review_after}
            return ProposalForm(initial=initial, auto_id=auto_id)
        form = VersionForm(initial={"version": self.waiting.pk}, auto_id=auto_id)
        if kind == "not_yet":
            form.fields["note"].widget.attrs["placeholder"] = _("I'd like to talk about this first")
        return form


def make_card(
    rule: Rule,
    number: int,
    viewer: Viewer,
    rounds: dict | None = None,
    other_name: str = "",
    reviews: dict | None = None,
    comments: list | None = None,
) -> Card:
    """`rounds`: the current rounds of the page's waiting wordings (rounds.rounds_for, read once
    for the page); without it, read for this rule alone. `other_name`: the viewer's partner.
    `comments`: the rule's comments (read for it alone when not given)."""
    if comments is None:
        comments = list(rule.comments.all())
    card = Card(rule=rule, number=number, viewer=viewer, other_name=other_name, comments=comments)
    if rule.review_due:
        card.review = review_of(rule, reviews)
    waiting = rule.pending_version
    if on_the_table(rule) is None:
        return card
    current = round_of(rule, rounds)
    card.round = current
    seen = current.seen_by(viewer.seat_id if viewer.is_partner or viewer.is_former else None)
    card.my_answer = next((a for a in seen if a.partner_id == viewer.seat_id), None)
    if rule.proposed_by_id is not None:
        card.proposed_by = rule.proposed_by.name
        card.proposal_note = current.proposal_note
        card.proposal_note_removed = current.proposal_note_removed
    # The proposer's own yes is "Proposed by …"; every other answer is listed.
    card.answers = [a for a in seen if a.event_id is not None]
    if not viewer.sees_who:
        # A therapist at "the rules" level: the state only. Who proposed, who answered what and
        # their notes are not in the context at all (Viewer.sees_who).
        card.proposed_by = ""
        card.proposal_note = ""
        card.proposal_note_removed = False
        card.answers = []
    if waiting is None:
        return card  # a declined wording: its answers, and nothing to compare
    base = rule.change and rule.wording or (waiting.previous if viewer.sees_history else None)
    if base is not None and base.pk != waiting.pk and not (base.removed or waiting.removed):
        card.diff = word_diff(base.text, waiting.text)
    return card


def make_cards(rules, viewer: Viewer, other_name: str, rounds: dict, comments: dict) -> list[Card]:
    """`rounds`: as `rounds.rounds_for(rules)` gives them; `comments`: the rules' comments by
    rule id (`pages.agreement.comments_by_rule`)."""
    reviews = reviews_for(rules)
    return [
        make_card(
            rule, rule.position, viewer, rounds, other_name, reviews, comments.get(rule.pk, [])
        )
        for rule in rules
    ]


def summary(rules: list[Rule], viewer: Viewer, rounds: dict) -> dict:
    """The counts above the cards, and the rules that wait for this viewer's answer (each asked
    with its round, as its card is): `rules` are the agreement's rules not archived."""
    needs_you = []
    if viewer.may_act:
        needs_you = [r for r in rules if r.waits_for(viewer.seat_id, round_of(r, rounds))]
    return {
        "in_force": sum(r.state == State.ACTIVE for r in rules),
        "total": len(rules),
        "waiting": sum(r.pending_version_id is not None for r in rules),
        "needs_you": needs_you,
        "resting": sum(r.state == State.PAUSED for r in rules),
        # Due for review: the same for both partners (no answer of anyone's changes it).
        "review_due": [r for r in rules if r.review_due],
    }
