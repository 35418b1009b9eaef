"""Every change to an agreement: one function each, one transaction, the rule row locked, an event
written. Views never write these models themselves.

The invariant that all of this protects: a rule is in force only while both current partners hold
a live acceptance of the exact version in force.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Couple, Partner
from agreements import notify
from agreements.defaults import DEFAULT_RULES
from agreements.models import Acceptance, Agreement, Event, Rule, RuleVersion

State = Rule.State
Kind = Event.Kind


class ConsentError(Exception):
    """An action that does not fit the rule's state: nothing was changed (HTTP 409)."""

    status = 409

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StaleVersion(ConsentError):
    """The partner acted on wording that is no longer the one waiting: nothing was recorded."""


class NothingChanged(ConsentError):
    """A proposed wording equal (but for white space) to the one it would replace."""


def normalise(text: str) -> str:
    return " ".join(text.split())


# -- creation -------------------------------------------------------------------------------------


def create_agreement(*, couple: Couple) -> Agreement:
    """The couple's agreement with the nine default rules, proposed and accepted by no one."""
    with transaction.atomic():
        agreement = Agreement.objects.create(couple=couple)
        for position, (title, text) in enumerate(DEFAULT_RULES, start=1):
            rule = Rule.objects.create(agreement=agreement, position=position)
            version = RuleVersion.objects.create(rule=rule, number=1, title=title, text=text)
            rule.pending_version = rule.latest_version = version
            rule.save(update_fields=["pending_version", "latest_version"])
        _record(agreement, Kind.CREATED)
    return agreement


def propose_rule(
    *, partner: Partner, agreement: Agreement, title: str, text: str, note: str = ""
) -> Rule:
    with transaction.atomic():
        agreement = (
            Agreement.objects.select_for_update().select_related("couple").get(pk=agreement.pk)
        )
        _check_may_change(partner, agreement)
        last = agreement.rules.order_by("-position").values_list("position", flat=True).first() or 0
        rule = Rule.objects.create(agreement=agreement, position=last + 1)
        version = RuleVersion.objects.create(
            rule=rule, number=1, title=title.strip(), text=text.strip(), author=partner
        )
        rule.pending_version = rule.latest_version = version
        rule.save(update_fields=["pending_version", "latest_version"])
        Acceptance.objects.create(version=version, partner=partner)
        _record(
            agreement, Kind.PROPOSED_RULE, partner=partner, rule=rule, version=version, note=note
        )
        notify.partner_of(partner)
    return rule


# -- actions on a rule ----------------------------------------------------------------------------


def accept(*, partner: Partner, rule: Rule, version_id: int) -> Rule:
    with transaction.atomic():
        rule = _lock(rule, partner)
        if _holds_live_acceptance(partner, version_id) and version_id in (
            rule.pending_version_id,
            rule.current_version_id,
        ):
            return rule  # a double submit: already recorded
        _check_waiting(rule, version_id)
        version = rule.pending_version
        Acceptance.objects.create(version=version, partner=partner)
        _record(rule.agreement, Kind.ACCEPTED, partner=partner, rule=rule, version=version)
        accepted_by = set(
            Acceptance.objects.filter(version=version, withdrawn_at__isnull=True).values_list(
                "partner_id", flat=True
            )
        )
        if accepted_by >= _current_partner_ids(rule):
            _withdraw_acceptances(rule.current_version_id)
            rule.state = State.ACTIVE
            rule.current_version = version
            rule.pending_version = None
            rule.in_force_since = timezone.now()
            rule.save(
                update_fields=["state", "current_version", "pending_version", "in_force_since"]
            )
            _record(rule.agreement, Kind.IN_FORCE, partner=partner, rule=rule, version=version)
        notify.partner_of(partner)
    return rule


def not_yet(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """Keeps the proposal open; takes back this partner's own acceptance of it, if any."""
    with transaction.atomic():
        rule = _lock(rule, partner)
        _check_waiting(rule, version_id)
        Acceptance.objects.filter(
            version_id=version_id, partner=partner, withdrawn_at__isnull=True
        ).update(withdrawn_at=timezone.now())
        _record(
            rule.agreement,
            Kind.NOT_YET,
            partner=partner,
            rule=rule,
            version=rule.pending_version,
            note=note,
        )
        notify.partner_of(partner)
    return rule


def decline(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """Ends the proposal. A declined change leaves the wording in force as it was."""
    with transaction.atomic():
        rule = _lock(rule, partner)
        _check_waiting(rule, version_id)
        version = rule.pending_version
        _withdraw_acceptances(version.pk)
        rule.pending_version = None
        if rule.state != State.ACTIVE:
            rule.state = State.DECLINED
        rule.save(update_fields=["state", "pending_version"])
        _record(
            rule.agreement, Kind.DECLINED, partner=partner, rule=rule, version=version, note=note
        )
        notify.partner_of(partner)
    return rule


def propose_change(*, partner: Partner, rule: Rule, title: str, text: str, note: str = "") -> Rule:
    with transaction.atomic():
        rule = _lock(rule, partner)
        if rule.state == State.ARCHIVED:
            raise ConsentError("This rule is archived. Restore it first to propose a change.")
        title, text = title.strip(), text.strip()
        for shown in (rule.pending_version, rule.current_version or rule.latest_version):
            if (
                shown
                and normalise(shown.text) == normalise(text)
                and normalise(shown.title) == normalise(title)
            ):
                raise NothingChanged(
                    "That wording is the same as the one already there: nothing was changed."
                )
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        version = RuleVersion.objects.create(
            rule=rule,
            number=rule.latest_version.number + 1,
            previous=rule.current_version or rule.latest_version,
            title=title,
            text=text,
            author=partner,
        )
        Acceptance.objects.create(version=version, partner=partner)
        if rule.state != State.ACTIVE:
            rule.state = State.PROPOSED
        rule.pending_version = rule.latest_version = version
        rule.save(update_fields=["state", "pending_version", "latest_version"])
        _record(
            rule.agreement,
            Kind.PROPOSED_CHANGE,
            partner=partner,
            rule=rule,
            version=version,
            note=note,
        )
        notify.partner_of(partner)
    return rule


def withdraw(*, partner: Partner, rule: Rule, note: str = "") -> Rule:
    """Either partner, alone, at once: the rule stops being in force until both accept again."""
    with transaction.atomic():
        rule = _lock(rule, partner)
        if rule.state == State.PAUSED:
            return rule  # a double submit: consent is already withdrawn
        if rule.state != State.ACTIVE:
            raise ConsentError("This rule is not in force, so there is no consent to withdraw.")
        in_force = rule.current_version
        _withdraw_acceptances(in_force.pk)
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        rule.state = State.PAUSED
        rule.pending_version = rule.pending_version or in_force
        rule.current_version = None
        rule.in_force_since = None
        rule.save(update_fields=["state", "pending_version", "current_version", "in_force_since"])
        _record(
            rule.agreement, Kind.WITHDREW, partner=partner, rule=rule, version=in_force, note=note
        )
        notify.partner_of(partner)
    return rule


def archive(*, partner: Partner, rule: Rule, note: str = "") -> Rule:
    with transaction.atomic():
        rule = _lock(rule, partner)
        if rule.state == State.ARCHIVED:
            return rule
        if rule.state == State.ACTIVE:
            raise ConsentError(
                "A rule in force cannot be archived. Withdraw consent from it first."
            )
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        rule.state = State.ARCHIVED
        rule.pending_version = None
        rule.save(update_fields=["state", "pending_version"])
        _record(
            rule.agreement,
            Kind.ARCHIVED,
            partner=partner,
            rule=rule,
            version=rule.latest_version,
            note=note,
        )
        notify.partner_of(partner)
    return rule


def restore(*, partner: Partner, rule: Rule) -> Rule:
    """Brings an archived rule back as a proposal of its latest wording, accepted by its restorer."""
    with transaction.atomic():
        rule = _lock(rule, partner)
        if rule.state != State.ARCHIVED:
            raise ConsentError("Only an archived rule can be restored.")
        rule.state = State.PROPOSED
        rule.pending_version = rule.latest_version
        rule.save(update_fields=["state", "pending_version"])
        Acceptance.objects.create(version=rule.latest_version, partner=partner)
        _record(
            rule.agreement, Kind.RESTORED, partner=partner, rule=rule, version=rule.latest_version
        )
        notify.partner_of(partner)
    return rule


# -- helpers --------------------------------------------------------------------------------------


def _lock(rule: Rule, partner: Partner) -> Rule:
    """The rule, re-read under a row lock, after checking the partner may change it."""
    locked = (
        Rule.objects.select_for_update(of=("self",))
        .select_related("agreement__couple", "current_version", "pending_version", "latest_version")
        .get(pk=rule.pk)
    )
    _check_may_change(partner, locked.agreement)
    return locked


def _check_may_change(partner: Partner, agreement: Agreement) -> None:
    if partner.couple_id != agreement.couple_id or partner.left_at is not None:
        raise PermissionError("Only a current partner of this couple may change its agreement.")
    if agreement.couple.ended_at is not None:
        raise ConsentError("This agreement is archived: it can be read and printed, not changed.")


def _check_waiting(rule: Rule, version_id: int) -> None:
    if rule.pending_version_id is None:
        messages = {
            State.ACTIVE: "This rule is already in force, with no change waiting.",
            State.DECLINED: "This proposal was declined. Propose a change to open it again.",
            State.ARCHIVED: "This rule is archived. Restore it first.",
        }
        raise ConsentError(messages.get(rule.state, "Nothing is waiting on this rule."))
    if rule.pending_version_id != version_id:
        raise StaleVersion(
            "The wording changed since you loaded the page, so nothing was recorded. "
            "Here is the new wording."
        )


def _holds_live_acceptance(partner: Partner, version_id: int) -> bool:
    return Acceptance.objects.filter(
        version_id=version_id, partner=partner, withdrawn_at__isnull=True
    ).exists()


def _withdraw_acceptances(version_id: int | None) -> None:
    if version_id:
        Acceptance.objects.filter(version_id=version_id, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now()
        )


def _current_partner_ids(rule: Rule) -> set[int]:
    return set(
        Partner.objects.filter(
            couple_id=rule.agreement.couple_id, left_at__isnull=True
        ).values_list("pk", flat=True)
    )


def _record(agreement: Agreement, kind: str, **fields) -> Event:
    event = Event.objects.create(agreement=agreement, kind=kind, **fields)
    Agreement.objects.filter(pk=agreement.pk).update(revision=F("revision") + 1)
    return event


record_event = _record
