"""What a rule card shows to one viewer: derived from the rule, never stored."""

from dataclasses import dataclass, field
from functools import cached_property

from django.urls import reverse

from accounts.models import Partner
from agreements.diff import Segment, word_diff
from agreements.models import Rule

State = Rule.State


@dataclass
class Card:
    rule: Rule
    number: int
    accepted_by: list[str] = field(default_factory=list)
    accepted_by_me: bool = False
    diff: list[Segment] | None = None
    can_act: bool = False  # a current partner of an agreement that is not archived
    seat_id: int | None = None

    @cached_property
    def urls(self) -> dict[str, str]:
        """The partner action URLs of this rule: one reverse() for the card instead of one per
        link (the page has about seventy)."""
        base = reverse("agreements:history", args=[self.rule.pk])
        actions = (
            "accept",
            "not_yet",
            "decline",
            "change",
            "withdraw",
            "archive",
            "restore",
            "card",
        )
        urls = {action: f"{base}{action.replace('_', '-')}/" for action in actions}
        urls["history"] = base
        return urls

    @property
    def waiting(self):
        return self.rule.pending_version

    # What the card offers is what consent.py accepts: both ask the rule (Rule.may_*).
    @property
    def can_accept(self) -> bool:
        return self.can_act and self.rule.may_accept(self.seat_id)

    @property
    def can_not_yet(self) -> bool:
        return self.can_act and self.rule.may_not_yet(self.seat_id)

    @property
    def can_decline(self) -> bool:
        return self.can_act and self.rule.may_decline(self.seat_id)

    @property
    def can_withdraw(self) -> bool:
        return self.can_act and self.rule.may_withdraw(self.seat_id)

    @property
    def can_change(self) -> bool:
        return self.can_act and self.rule.may_change(self.seat_id)

    @property
    def can_archive(self) -> bool:
        return self.can_act and self.rule.may_archive(self.seat_id)

    @property
    def can_restore(self) -> bool:
        return self.can_act and self.rule.may_restore(self.seat_id)

    @property
    def draft(self):
        return self.rule.draft


def make_card(rule: Rule, number: int, seat: Partner | None, *, can_act: bool) -> Card:
    card = Card(rule=rule, number=number, can_act=can_act, seat_id=seat.pk if seat else None)
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
        card.accepted_by_me = seat is not None and any(a.partner_id == seat.pk for a in live)
        base = rule.current_version or waiting.previous
        if base is not None and base.pk != waiting.pk:
            card.diff = word_diff(base.text, waiting.text)
    return card


def make_cards(rules, seat: Partner | None, *, can_act: bool) -> list[Card]:
    return [make_card(rule, n, seat, can_act=can_act) for n, rule in enumerate(rules, start=1)]


def summary(rules, seat: Partner | None = None) -> dict:
    live = [r for r in rules if r.state != State.ARCHIVED]
    waiting = [r for r in live if r.pending_version_id is not None]
    return {
        "in_force": sum(r.state == State.ACTIVE for r in live),
        "total": len(live),
        "waiting": len(waiting),
        # The rule's own question (a resting rule with nothing waiting waits for no one; one's
        # own proposal never waits for oneself). Not-yet answers count once the page passes
        # consent.answers_by_rule to waits_for.
        "waiting_for_you": sum(r.waits_for(seat.pk) for r in waiting) if seat is not None else 0,
        "paused": sum(r.state == State.PAUSED for r in live),
    }
