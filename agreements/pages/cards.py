"""What a rule card shows to one viewer: derived from the rule, never stored."""

from dataclasses import dataclass, field
from functools import cache, cached_property

from django import forms
from django.urls import reverse

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.forms import VersionForm, WordingForm
from agreements.models import Rule

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
class Card:
    rule: Rule
    number: int
    viewer: Viewer
    accepted_by: list[str] = field(default_factory=list)
    accepted_by_me: bool = False
    diff: list[Segment] | None = None
    error: str = ""
    open_form: OpenForm | None = None

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


def make_card(rule: Rule, number: int, viewer: Viewer) -> Card:
    card = Card(rule=rule, number=number, viewer=viewer)
    waiting = rule.pending_version
    if waiting is not None:
        live = getattr(waiting, "live_acceptances", None)
        if live is None:
            live = list(
                waiting.acceptances.filter(withdrawn_at__isnull=True).select_related(
                    "partner__user"
                )
            )
        card.accepted_by = [a.partner.name for a in live]
        card.accepted_by_me = viewer.seat_id is not None and any(
            a.partner_id == viewer.seat_id for a in live
        )
        # Against an earlier wording that is no longer in force, the diff is history.
        base = rule.current_version or (waiting.previous if viewer.sees_history else None)
        if base is not None and base.pk != waiting.pk:
            card.diff = word_diff(base.text, waiting.text)
    return card


def make_cards(rules, viewer: Viewer) -> list[Card]:
    return [make_card(rule, n, viewer) for n, rule in enumerate(rules, start=1)]


def summary(rules, viewer: Viewer | None = None) -> dict:
    live = [r for r in rules if r.state != State.ARCHIVED]
    waiting = [r for r in live if r.pending_version_id is not None]
    seat_id = viewer.seat_id if viewer is not None else None
    return {
        "in_force": sum(r.state == State.ACTIVE for r in live),
        "total": len(live),
        "waiting": len(waiting),
        "waiting_for_you": sum(
            not any(
                a.partner_id == seat_id for a in getattr(r.pending_version, "live_acceptances", [])
            )
            for r in waiting
        )
        if seat_id is not None
        else 0,
        "paused": sum(r.state == State.PAUSED for r in live),
    }
