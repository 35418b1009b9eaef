"""Every change to an agreement: one function each, one transaction, the rows locked, an event
written. Views never write these models themselves.

The invariant that all of this protects (agreements.invariants checks it): a rule is in force
only while both current partners hold a live acceptance of the exact version in force, and
nothing comes into force once the partnership has ended.

Lock order, everywhere (consent, agreements.partnership, accounts.linking.end_partnership):
the couple row, then (ending a partnership only) its therapist access rows, then the agreement
row, then the rule row, then partner seats (the other seat's ``notified_at``, or every seat's
``left_at``). agreements.therapy locks an access row before the agreement row, which fits. Consent actions lock the couple first so that they
and ending the partnership happen one after the other; the seat and couple are read afresh under
that lock. Rows are locked without joins (PostgreSQL re-checks only the locked row once a lock
is granted, so joined rows would come from an older snapshot); related rows are read afresh
after the lock. A transaction the database aborts to break a deadlock or a serialisation
conflict is run again (intimacy.db.retry_on_conflict).

Which action is allowed in which state is the rule's own question (``Rule.may_*`` in
agreements.models): the card offers exactly what these functions accept.
"""

from datetime import datetime

from django.db import models, transaction
from django.db.models import Max
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from accounts.models import Couple, Partner
from agreements import notify, revision, rounds
from agreements.defaults import in_active_language
from agreements.models import (
    COOLING_OFF,
    REVIEW_GRACE,
    REVIEW_MONTHS,
    Acceptance,
    Agreement,
    Event,
    Rule,
    RuleVersion,
    next_review,
)
from intimacy.db import retry_on_conflict
from intimacy.errors import ServiceError

State = Rule.State
Kind = Event.Kind

ARCHIVED_AGREEMENT = gettext_lazy(
    "This agreement is archived: it can be read and printed, not changed."
)


class ConsentError(ServiceError):
    """An action that does not fit the rule's state: nothing was changed (HTTP 409)."""

    status = 409


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
        for position, (title, text) in enumerate(in_active_language(), start=1):
            rule = Rule.objects.create(agreement=agreement, position=position)
            version = RuleVersion.objects.create(rule=rule, number=1, title=title, text=text)
            rule.pending_version = rule.latest_version = version
            rule.save(update_fields=["pending_version", "latest_version"])
        record_event(agreement, Kind.CREATED)
    return agreement


@retry_on_conflict
def propose_rule(
    *,
    partner: Partner,
    agreement: Agreement,
    title: str,
    text: str,
    note: str = "",
    review_after: str = "",
) -> Rule:
    _check_review_after(review_after)
    with transaction.atomic():
        agreement, partner = _lock_agreement(agreement.pk, agreement.couple_id, partner)
        _check_not_declined_lately(agreement, partner, text)
        # Numbers are for life: a new rule never takes the number of an archived one.
        last = agreement.rules.aggregate(last=Max("position"))["last"] or 0
        rule = Rule.objects.create(agreement=agreement, position=last + 1)
        version = RuleVersion.objects.create(
            rule=rule,
            number=1,
            title=title.strip(),
            text=text.strip(),
            author=partner,
            review_after=review_after,
        )
        rule.pending_version = rule.latest_version = version
        rule.proposed_by = partner
        rule.save(update_fields=["pending_version", "latest_version", "proposed_by"])
        Acceptance.objects.create(version=version, partner=partner)
        record_event(
            agreement, Kind.PROPOSED_RULE, partner=partner, rule=rule, version=version, note=note
        )
        notify.partner_of(partner)
    return rule


# -- answers to what is waiting -------------------------------------------------------------------


@retry_on_conflict
def accept(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """Records this partner's acceptance of the waiting version, with their note, sealed until
    the other partner has answered it too (rounds.py); it comes into force once both current
    partners (exactly two) hold a live acceptance of it."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        accepted_by = _live_acceptors(version_id)
        if partner.pk in accepted_by and version_id in (
            rule.pending_version_id,
            rule.current_version_id,
        ):
            return rule  # a double submit: already recorded
        if rule.pending_version_id is None and version_id == rule.declined_version_id:
            return _accept_declined(rule, partner, version_id, accepted_by, note)
        _check_waiting(rule, version_id, partner)
        if not rule.may_accept(partner.pk, accepted_by):
            raise ConsentError(_("Your answer to this wording is already recorded."))
        Acceptance.objects.create(version_id=version_id, partner=partner)
        revealed = _answer(rule, partner, Kind.ACCEPTED, note)
        # Under the couple's lock nobody else can accept or leave meanwhile.
        accepted_by.add(partner.pk)
        current = rule.agreement.current_partner_ids
        if revealed and len(current) == 2 and current <= accepted_by:
            _into_force(rule, partner, version_id)
        elif revealed:
            _end_if_declined(rule, partner)
    return rule


def _accept_declined(
    rule: Rule, partner: Partner, version_id: int, accepted_by: set[int], note: str
) -> Rule:
    """The one who declined changes their answer to yes while the other's yes still stands:
    both have answered already, so nothing is sealed, and the wording comes into force."""
    if not rule.may_accept_declined(partner.pk, accepted_by):
        if partner.pk == rule.declined_by_id:
            raise ConsentError(
                _(
                    "Your partner no longer stands by this wording. You can reopen it to propose "
                    "it again."
                )
            )
        raise ConsentError(_("This proposal was declined. Propose a change to open it again."))
    if rule.agreement.current_partner_ids != accepted_by | {partner.pk}:
        raise ConsentError(_("Your partner no longer stands by this wording."))
    Acceptance.objects.create(version_id=version_id, partner=partner)
    record_event(
        rule.agreement,
        Kind.ACCEPTED,
        partner=partner,
        rule=rule,
        version_id=version_id,
        note=note.strip(),
    )
    _into_force(rule, partner, version_id)
    notify.partner_of(partner)
    return rule


def _into_force(rule: Rule, partner: Partner, version_id: int) -> None:
    """Both current partners hold a live acceptance of this version: it is the rule's now."""
    _withdraw_acceptances(rule.current_version_id)
    rule.state = State.ACTIVE
    rule.current_version_id = version_id
    rule.pending_version = None
    rule.proposed_by = None
    rule.in_force_since = timezone.now()
    # The review interval is the accepted wording's own: counted from today.
    interval = RuleVersion.objects.values_list("review_after", flat=True).get(pk=version_id)
    rule.review_at = next_review(rule.in_force_since, interval)
    _clear_resting(rule)
    _clear_declined(rule)
    rule.save(
        update_fields=[*_POINTERS, "in_force_since", "declined_by", "declined_at", "review_at"]
    )
    record_event(rule.agreement, Kind.IN_FORCE, partner=partner, rule=rule, version_id=version_id)


@retry_on_conflict
def not_yet(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """An answer: the proposal stays open, no longer waiting for this partner (who can still
    accept later); takes back this partner's own acceptance of it, if any. Sealed until the
    other partner has answered too."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        _check_waiting(rule, version_id, partner)
        if not rule.may_not_yet(partner.pk):
            raise ConsentError(OWN_PROPOSAL)
        _withdraw_own_acceptance(version_id, partner)
        if _answer(rule, partner, Kind.NOT_YET, note):
            _end_if_declined(rule, partner)
    return rule


@retry_on_conflict
def decline(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """No to the waiting wording. Sealed until the other partner has answered it too; once both
    have, a decline ends the proposal (whoever says no holds the key). A declined change leaves
    the rule's own wording as it was (in force, or resting)."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        _check_waiting(rule, version_id, partner)
        if not rule.may_decline(partner.pk):
            raise ConsentError(OWN_PROPOSAL)
        _withdraw_own_acceptance(version_id, partner)
        if _answer(rule, partner, Kind.DECLINED, note):
            _end_pending(rule, Kind.DECLINED, partner, note, record=False)
    return rule


def _withdraw_own_acceptance(version_id: int, partner: Partner) -> None:
    Acceptance.objects.filter(
        version_id=version_id, partner=partner, withdrawn_at__isnull=True
    ).update(withdrawn_at=timezone.now())


def _answer(rule: Rule, partner: Partner, kind: str, note: str) -> bool:
    """Writes this partner's answer to the waiting wording and says whether it completes the
    round. Until every other current partner has answered, it is sealed: only its author sees
    it, and only their pages move. The answer that completes the round unseals the answers that
    stand (an answer changed before stays sealed for good), and the partner is told."""
    current = rounds.round_of(rule)
    revealed = current.revealed_with(partner.pk, rule.agreement.current_partner_ids)
    waiting = Acceptance.objects.filter(
        version_id=rule.pending_version_id, withdrawn_at__isnull=True
    )
    if revealed:
        standing = [
            a.event_id
            for a in current.answers.values()
            if a.sealed and a.event_id and a.partner_id != partner.pk
        ]
        Event.objects.filter(pk__in=standing).update(private_to=None)
        waiting.filter(sealed=True).exclude(partner=partner).update(sealed=False)
    elif kind == Kind.ACCEPTED:
        waiting.filter(partner=partner).update(sealed=True)
    record_event(
        rule.agreement,
        kind,
        partner=partner,
        rule=rule,
        version_id=rule.pending_version_id,
        note=note.strip(),
        private_to=None if revealed else partner,
    )
    if revealed:
        notify.partner_of(partner)
    return revealed


def _end_if_declined(rule: Rule, partner: Partner) -> None:
    """Once both have answered, a standing decline ends the proposal, whoever answered last."""
    standing = rounds.round_of(rule).answers.values()
    if any(a.kind == Kind.DECLINED for a in standing):
        _end_pending(rule, Kind.DECLINED, partner, "", record=False)


@retry_on_conflict
def take_back(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """The proposer ends their own waiting proposal, as a decline would."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if rule.pending_version_id is None and version_id == rule.declined_version_id:
            return _take_back_yes(rule, partner, version_id, note)
        _check_waiting(rule, version_id, partner)
        if not rule.may_take_back(partner.pk):
            raise ConsentError(_("Only the partner who proposed this wording can take it back."))
        _end_pending(rule, Kind.TOOK_BACK, partner, note)
    return rule


def _take_back_yes(rule: Rule, partner: Partner, version_id: int, note: str) -> Rule:
    """The other partner's yes to a declined wording stood; now it does not, and the one who
    declined can no longer accept it (only reopen it)."""
    if not rule.may_take_back_yes(partner.pk):
        if _last_event_is(rule, Kind.TOOK_BACK, partner):
            return rule  # a double submit
        raise ConsentError(_("This proposal was declined. Propose a change to open it again."))
    _withdraw_own_acceptance(version_id, partner)
    record_event(
        rule.agreement, Kind.TOOK_BACK, partner=partner, rule=rule, version_id=version_id, note=note
    )
    notify.partner_of(partner)
    return rule


def _set_aside_declined(rule: Rule) -> None:
    """New wording, a reopening, an archive or a withdrawal puts the declined wording off the
    table: a yes that still stood by it ends."""
    _withdraw_acceptances(rule.declined_version_id)


OWN_PROPOSAL = gettext_lazy("This is your own proposal: you can take it back instead.")


def _end_pending(
    rule: Rule, kind: str, partner: Partner, note: str, *, record: bool = True
) -> None:
    """The waiting wording is off the table. `record`: write the event that says why (a decline
    has been written already, as an answer)."""
    version = rule.pending_version
    if kind == Kind.DECLINED:
        # The answers of the round, this decline included (written just before).
        decliners = {
            a.partner_id for a in rounds.round_of(rule).answers.values() if a.kind == Kind.DECLINED
        }
        rule.declined_by_id = decliners.pop() if len(decliners) == 1 else None
        rule.declined_at = timezone.now()
        if rule.declined_by_id is None:
            _withdraw_acceptances(version.pk)  # both said no: no yes stands
        # One said no: the other's yes stands, and the one who declined may still accept.
    else:
        _withdraw_acceptances(version.pk)
    rule.pending_version = None
    rule.proposed_by = None
    if rule.state == State.PROPOSED:
        rule.state = State.DECLINED
    rule.save(
        update_fields=["state", "pending_version", "proposed_by", "declined_by", "declined_at"]
    )
    if record:
        _record_and_tell(rule, partner, kind, version, note=note)


# -- changing, withdrawing, reopening -------------------------------------------------------------


def propose_wording(
    *,
    partner: Partner,
    agreement: Agreement,
    rule: Rule | None,
    title: str,
    text: str,
    note: str = "",
) -> Rule:
    """A wording this partner puts on the table: a new rule when `rule` is None (propose_rule),
    else a change to `rule` (propose_change)."""
    if rule is None:
        return propose_rule(partner=partner, agreement=agreement, title=title, text=text, note=note)
    return propose_change(partner=partner, rule=rule, title=title, text=text, note=note)


@retry_on_conflict
def propose_change(
    *,
    partner: Partner,
    rule: Rule,
    title: str,
    text: str,
    note: str = "",
    review_after: str = "",
) -> Rule:
    """A new wording (or only a new review interval), accepted by its proposer. It replaces a
    proposal still waiting; beside a rule in force or resting it waits as a change of its own,
    and the rule's wording stays. Proposed while the rule is due for review, it is the review's
    Change it (the event says so); the review stays open until the change comes into force."""
    _check_review_after(review_after)
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        _check_not_cooling(rule, partner)
        if not rule.may_change(partner.pk):
            raise ConsentError(_("This rule is archived. Restore it first to propose a change."))
        title, text = title.strip(), text.strip()

        def same(version: RuleVersion | None) -> bool:
            return (
                version is not None
                and normalise(version.text) == normalise(text)
                and normalise(version.title) == normalise(title)
                and version.review_after == review_after
            )

        if rule.is_resting and same(rule.agreed_version):
            if rule.may_reopen(partner.pk):
                raise NothingChanged(
                    _("That is the wording you withdrew from. Reopen it to propose it again.")
                )
            raise NothingChanged(
                _(
                    "That is the wording your partner withdrew from: only they can reopen it. "
                    "You can propose a different wording."
                )
            )
        if same(rule.pending_version) or same(rule.wording):
            raise NothingChanged(
                _("That wording is the same as the one already there: nothing was changed.")
            )
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        _set_aside_declined(rule)
        version = _new_version(rule, partner, title=title, text=text, review_after=review_after)
        Acceptance.objects.create(version=version, partner=partner)
        at_review = rule.review_due
        if rule.state not in (State.ACTIVE, State.PAUSED):
            rule.state = State.PROPOSED
        rule.pending_version = rule.latest_version = version
        rule.proposed_by = partner
        _clear_declined(rule)
        rule.save(
            update_fields=[
                "state",
                "pending_version",
                "latest_version",
                "proposed_by",
                "declined_by",
                "declined_at",
            ]
        )
        _record_and_tell(
            rule,
            partner,
            Kind.CHANGED_AT_REVIEW if at_review else Kind.PROPOSED_CHANGE,
            version,
            note=note,
        )
    return rule


@retry_on_conflict
def withdraw(*, partner: Partner, rule: Rule, note: str = "") -> Rule:
    """Either partner, alone, at once, whatever happened just before: the rule stops being in
    force and rests with the wording both had agreed, until the withdrawer reopens it or both
    accept a wording again. The withdrawer's acceptance of a change waiting beside it ends too
    (the change stays, answered on its own)."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if not rule.may_withdraw(partner.pk):
            if rule.is_resting:
                return rule  # a double submit, or the other partner withdrew a moment earlier
            raise ConsentError(_("This rule is not in force, so there is no consent to withdraw."))
        if rule.is_resting:
            # The other partner withdrew a moment earlier: nothing is in force, and this
            # partner's consent to the change waiting beside it ends too.
            Acceptance.objects.filter(
                version_id=rule.pending_version_id, partner=partner, withdrawn_at__isnull=True
            ).update(withdrawn_at=timezone.now())
            _record_and_tell(rule, partner, Kind.WITHDREW, rule.pending_version, note=note)
            return rule
        _rest(rule, partner, Kind.WITHDREW, note)
    return rule


def _rest(rule: Rule, partner: Partner, kind: str, note: str) -> None:
    """The rule in force stops being in force and rests with the wording both had agreed; this
    partner holds the key (a withdrawal, or Let it rest at a review)."""
    in_force = rule.current_version
    now = timezone.now()
    _set_aside_declined(rule)
    _withdraw_acceptances(in_force.pk, now=now)
    if rule.pending_version_id:
        Acceptance.objects.filter(
            version_id=rule.pending_version_id, partner=partner, withdrawn_at__isnull=True
        ).update(withdrawn_at=now)
    rule.state = State.PAUSED
    rule.current_version = None
    rule.in_force_since = None
    rule.review_at = None
    rule.agreed_version = in_force
    rule.withdrawn_by = partner
    rule.withdrawn_at = now
    rule.save(update_fields=[*_POINTERS, "in_force_since", "review_at"])
    _record_and_tell(rule, partner, kind, in_force, note=note)


# -- reviews --------------------------------------------------------------------------------------


def _check_review_after(review_after: str) -> None:
    if review_after and review_after not in REVIEW_MONTHS:
        raise ConsentError(_("Choose when to look at it again, or no review."))


class ReviewClosed(ConsentError):
    """The rule is not (or no longer) due for review: nothing was recorded."""


def _check_review(rule: Rule, version_id: int) -> None:
    if not rule.review_due:
        if rule.is_resting:
            raise ReviewClosed(
                _("This rule is resting now, so there is nothing to keep. Here it is as it is.")
            )
        raise ReviewClosed(_("This rule is not up for review: nothing was recorded."))
    if rule.current_version_id != version_id:
        raise StaleVersion(
            _(
                "The wording in force changed since you loaded the page, so nothing was "
                "recorded. Here is the new wording."
            )
        )


@retry_on_conflict
def keep(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """Keep it, at a rule's review: sealed until the other partner keeps it too (nothing of it
    shows to them, the therapist, counts, the poll or emails). When both have, the rule is kept:
    it stays in force and its next review is the same interval after this one. If the other
    lets it rest instead, this answer stays sealed for good: there is nothing left to keep, and
    the one who said no never learns the other wanted to."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        kept_by = rounds.review_of(rule).kept_by if rule.review_due else set()
        if partner.pk in kept_by and rule.current_version_id == version_id:
            return rule  # a double submit
        _check_review(rule, version_id)
        others = rule.agreement.current_partner_ids - {partner.pk}
        complete = bool(others) and others <= kept_by
        record_event(
            rule.agreement,
            Kind.KEEP_ANSWER,
            partner=partner,
            rule=rule,
            version_id=version_id,
            note=note.strip(),
            private_to=None if complete else partner,
        )
        if complete:
            Event.objects.filter(
                rule=rule, kind=Kind.KEEP_ANSWER, created_at__gte=rule.review_at
            ).update(private_to=None)
            interval = rule.current_version.review_after
            reviewed = rule.review_at
            rule.review_at = next_review(reviewed, interval)
            rule.save(update_fields=["review_at"])
            record_event(rule.agreement, Kind.KEPT, rule=rule, version_id=version_id)
            notify.partner_of(partner)
    return rule


@retry_on_conflict
def let_rest(*, partner: Partner, rule: Rule, version_id: int, note: str = "") -> Rule:
    """Let it rest, at a rule's review: at once, as a withdrawal; this partner holds the key."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if rule.is_resting and rule.withdrawn_by_id == partner.pk:
            return rule  # a double submit
        _check_review(rule, version_id)
        _rest(rule, partner, Kind.LET_REST, note)
    return rule


def _write_lapse(rule: Rule) -> None:
    """Writes down what every reader already shows (Rule._apply_clock): nobody answered the review
    within REVIEW_GRACE, so the rule rests, nobody holding the key. In the caller's transaction,
    with the rule locked; the event is dated at the lapse moment."""
    lapsed_at = rule.withdrawn_at
    _set_aside_declined(rule)
    _withdraw_acceptances(rule.agreed_version_id, now=lapsed_at)
    rule.review_at = None
    rule.save(update_fields=[*_POINTERS, "in_force_since", "review_at"])
    rule.lapse_unrecorded = False
    record_event(
        rule.agreement,
        Kind.LAPSED,
        rule=rule,
        version_id=rule.agreed_version_id,
        created_at=lapsed_at,
    )


@retry_on_conflict
def record_lapse(*, rule_id: int) -> bool:
    """For the review_rules command: writes the lapse of one rule if it has lapsed and nobody
    wrote it yet. Whether it wrote anything (so the command is idempotent)."""
    with transaction.atomic():
        agreement_id, couple_id = Rule.objects.values_list(
            "agreement_id", "agreement__couple_id"
        ).get(pk=rule_id)
        couple = Couple.objects.select_for_update(no_key=True).get(pk=couple_id)
        if couple.ended_at is not None:
            return False
        agreement = Agreement.objects.select_for_update(no_key=True).get(pk=agreement_id)
        agreement.couple = couple
        rule = Rule.objects.select_for_update(no_key=True).get(pk=rule_id)
        rule.agreement = agreement
        if not rule.lapse_unrecorded:
            return False
        _write_lapse(rule)
    return True


def lapses_due(now: datetime | None = None) -> list[int]:
    """Rules whose lapse moment has passed and is not written yet (the command's work)."""
    now = now or timezone.now()
    return list(
        Rule.objects.filter(
            state=State.ACTIVE,
            review_at__lte=now - REVIEW_GRACE,
            agreement__couple__ended_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@retry_on_conflict
def tell_review_due(*, agreement_id: int) -> int:
    """The one neutral email a review deserves: for the rules of this agreement due for review
    and not told yet, marks them told (never again for this review: no reminders) and asks
    notify to email each partner, within its limits. How many rules it marked."""
    with transaction.atomic():
        couple_id = Agreement.objects.values_list("couple_id", flat=True).get(pk=agreement_id)
        couple = Couple.objects.select_for_update(no_key=True).get(pk=couple_id)
        if couple.ended_at is not None:
            return 0
        Agreement.objects.select_for_update(no_key=True).get(pk=agreement_id)
        now = timezone.now()
        due = [
            rule
            for rule in Rule.objects.select_for_update(no_key=True)
            .filter(agreement_id=agreement_id, state=State.ACTIVE, review_at__lte=now)
            .order_by("pk")
            if rule.review_due and rule.review_told_for != rule.review_at
        ]
        for rule in due:
            rule.review_told_for = rule.review_at
            rule.save(update_fields=["review_told_for"])
        if due:
            notify.review_due(couple_id)
    return len(due)


def reviews_to_tell(now: datetime | None = None) -> list[int]:
    """Agreements with a rule due for review whose email was not queued yet."""
    now = now or timezone.now()
    return sorted(
        set(
            Rule.objects.filter(
                state=State.ACTIVE,
                review_at__lte=now,
                review_at__gt=now - REVIEW_GRACE,
                agreement__couple__ended_at__isnull=True,
            )
            .filter(
                models.Q(review_told_for__isnull=True)
                | ~models.Q(review_told_for=models.F("review_at"))
            )
            .values_list("agreement_id", flat=True)
        )
    )


@retry_on_conflict
def reopen(*, partner: Partner, rule: Rule, note: str = "") -> Rule:
    """Only the partner who withdrew: proposes the wording both had agreed again (the same
    version), with their acceptance, proposed by them. A change waiting beside the resting rule
    is replaced, as by any new proposal."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if not rule.may_reopen(partner.pk):
            if _last_event_is(rule, Kind.REOPENED, partner):
                return rule  # a double submit
            if rule.is_resting:
                raise ConsentError(
                    _(
                        "Only the partner who withdrew consent can reopen this rule. "
                        "You can propose a different wording."
                    )
                )
            if rule.state == State.DECLINED:
                raise ConsentError(
                    _(
                        "Only the partner who declined this rule can reopen it. "
                        "You can propose it again once the wait is over."
                    )
                )
            raise ConsentError(_("Only a resting or declined rule can be reopened."))
        # Resting: the wording both had agreed. Declined: the wording that was declined.
        agreed = rule.agreed_version if rule.is_resting else rule.latest_version
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        _set_aside_declined(rule)
        Acceptance.objects.create(version=agreed, partner=partner)
        rule.state = State.PROPOSED
        rule.pending_version = rule.latest_version = agreed
        rule.proposed_by = partner
        _clear_resting(rule)
        _clear_declined(rule)
        rule.save(update_fields=[*_POINTERS, "latest_version", "declined_by", "declined_at"])
        _record_and_tell(rule, partner, Kind.REOPENED, agreed, note=note)
    return rule


@retry_on_conflict
def archive(*, partner: Partner, rule: Rule, note: str = "") -> Rule:
    """Puts a rule that is not in force away; its number stays its own."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if rule.state == State.ARCHIVED:
            return rule
        if not rule.may_archive(partner.pk):
            raise ConsentError(
                _("A rule in force cannot be archived. Withdraw consent from it first.")
            )
        if rule.pending_version_id:
            _withdraw_acceptances(rule.pending_version_id)
        _set_aside_declined(rule)
        rule.state = State.ARCHIVED
        rule.pending_version = None
        rule.proposed_by = None
        _clear_resting(rule)
        rule.save(update_fields=_POINTERS)
        _record_and_tell(rule, partner, Kind.ARCHIVED, rule.latest_version, note=note)
    return rule


@retry_on_conflict
def restore(*, partner: Partner, rule: Rule) -> Rule:
    """Brings an archived rule back as a proposal of its latest wording, proposed (and accepted)
    by its restorer."""
    with transaction.atomic():
        rule, partner = _lock(rule, partner)
        if not rule.may_restore(partner.pk):
            if _last_event_is(rule, Kind.RESTORED, partner):
                return rule  # a double submit
            _check_not_cooling(rule, partner)
            raise ConsentError(_("Only an archived rule can be restored."))
        latest = rule.latest_version
        Acceptance.objects.create(version=latest, partner=partner)
        rule.state = State.PROPOSED
        rule.pending_version = latest
        rule.proposed_by = partner
        _clear_declined(rule)
        rule.save(update_fields=[*_POINTERS, "declined_by", "declined_at"])
        _record_and_tell(rule, partner, Kind.RESTORED, latest)
    return rule


# -- whoever says no holds the key ----------------------------------------------------------------


class CoolingOff(ConsentError):
    """The other partner declined this wording lately: it rests with them for COOLING_OFF."""


def _cooling_message(until) -> str:
    # The day's format is translated too: "7 December", "7 de diciembre", "7. Dezember".
    day = formats.date_format(timezone.localtime(until), pgettext("day and month", "j F"))
    return _(
        "Your partner said no to this rule, so it rests with them: they can reopen it at any "
        "time. You can propose it again from %(day)s."
    ) % {"day": day}


def _check_not_cooling(rule: Rule, partner: Partner) -> None:
    until = rule.cooling_until(partner.pk)
    if until is not None:
        raise CoolingOff(_cooling_message(until))


def _check_not_declined_lately(agreement: Agreement, partner: Partner, text: str) -> None:
    """A new rule whose wording equals one the other partner declined lately is the same ask."""
    lately = agreement.rules.filter(
        declined_at__gt=timezone.now() - COOLING_OFF, declined_by__isnull=False
    ).exclude(declined_by=partner)
    for rule in lately.select_related("latest_version"):
        if normalise(rule.latest_version.text) == normalise(text):
            raise CoolingOff(_cooling_message(rule.cooling_until(partner.pk)))


def _clear_declined(rule: Rule) -> None:
    rule.declined_by = None
    rule.declined_at = None


# -- pause everything -----------------------------------------------------------------------------


@retry_on_conflict
def pause_everything(*, partner: Partner, note: str = "") -> list[Rule]:
    """The traffic-light red: this partner withdraws consent from every rule in force at once,
    each exactly as ``withdraw`` does it (the rule rests with the wording both had agreed, and
    only this partner can reopen it). Proposals, declined and archived rules and anything else
    are left as they are. One event says it, with the note, before the withdrawals.

    The agreement records the pause (who, since when, the note) until the pauser reopens all. A
    pause while the other partner's pause lasts rests what is in force and records the event and
    the note, but leaves the recorded pause (and its Reopen all) with the partner who paused
    first. Never refused: a pause with nothing in force is still the signal "stop and talk".

    Locks: couple, agreement, then the rules in force by id (withdraw locks each again, already
    held). Returns the rules it rested."""
    with transaction.atomic():
        agreement_id = Agreement.objects.values_list("pk", flat=True).get(
            couple_id=partner.couple_id
        )
        agreement, partner = _lock_agreement(agreement_id, partner.couple_id, partner)
        in_force = list(
            Rule.objects.select_for_update(no_key=True)
            .filter(agreement=agreement, state=State.ACTIVE)
            .order_by("pk")
        )
        if not in_force and _last_agreement_event_is(
            agreement, Kind.PAUSED_EVERYTHING, partner, note
        ):
            return []  # a double submit
        now = timezone.now()
        if agreement.paused_by_id is None:
            agreement.paused_by, agreement.paused_at, agreement.pause_note = partner, now, note
            agreement.save(update_fields=["paused_by", "paused_at", "pause_note"])
        elif agreement.paused_by_id == partner.pk and note:
            # Paused again (something came back into force meanwhile): the pause still counts
            # from its start; the newest note is the one shown.
            agreement.pause_note = note
            agreement.save(update_fields=["pause_note"])
        record_event(agreement, Kind.PAUSED_EVERYTHING, partner=partner, note=note)
        for rule in in_force:
            rule.agreement = agreement
            withdraw(partner=partner, rule=rule)
        notify.partner_of(partner)
    return in_force


@retry_on_conflict
def reopen_all(*, partner: Partner, note: str = "") -> list[Rule]:
    """Only the partner who paused: ends the pause and reopens, each as ``reopen`` does, every
    rule it rested that still rests (those this partner withdrew since the pause began). Rules
    this partner withdrew one by one before the pause stay resting: each was a no of its own.
    Returns the rules it reopened."""
    with transaction.atomic():
        agreement_id = Agreement.objects.values_list("pk", flat=True).get(
            couple_id=partner.couple_id
        )
        agreement, partner = _lock_agreement(agreement_id, partner.couple_id, partner)
        if agreement.paused_by_id is None:
            return []  # a double submit, or nothing is paused
        if agreement.paused_by_id != partner.pk:
            raise ConsentError(
                _(
                    "Only the partner who paused everything can reopen all. "
                    "You can propose a different wording for any rule."
                )
            )
        rested = list(
            Rule.objects.select_for_update(no_key=True)
            .filter(
                agreement=agreement,
                state=State.PAUSED,
                withdrawn_by=partner,
                withdrawn_at__gte=agreement.paused_at,
            )
            .order_by("pk")
        )
        agreement.paused_by, agreement.paused_at, agreement.pause_note = None, None, ""
        agreement.save(update_fields=["paused_by", "paused_at", "pause_note"])
        record_event(agreement, Kind.REOPENED_ALL, partner=partner, note=note)
        for rule in rested:
            rule.agreement = agreement
            reopen(partner=partner, rule=rule)
        notify.partner_of(partner)
    return rested


# -- helpers --------------------------------------------------------------------------------------

_POINTERS = [
    "state",
    "current_version",
    "pending_version",
    "proposed_by",
    "agreed_version",
    "withdrawn_by",
    "withdrawn_at",
]


def _lock_agreement(
    agreement_id: int, couple_id: int, partner: Partner
) -> tuple[Agreement, Partner]:
    """The couple, then the agreement, locked (in that order); whether the partner is still a
    current partner is read afresh under the couple's lock (seats leave only under it)."""
    couple = Couple.objects.select_for_update(no_key=True).get(pk=couple_id)
    agreement = Agreement.objects.select_for_update(no_key=True).get(pk=agreement_id)
    agreement.couple = couple
    # A seat's couple never changes; only its left_at does.
    if partner.couple_id != couple_id:
        raise PermissionError("Only a current partner of this couple may change its agreement.")
    agreement.current_partner_ids = set(
        Partner.objects.filter(couple_id=couple_id, left_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if couple.ended_at is not None or partner.pk not in agreement.current_partner_ids:
        raise ConsentError(ARCHIVED_AGREEMENT)
    return agreement, partner


def _lock(rule: Rule, partner: Partner) -> tuple[Rule, Partner]:
    """The rule re-read under its row lock (after the couple's and the agreement's), with the
    partner checked afresh. No joins: the versions it points to are read afresh afterwards."""
    # An agreement's couple never changes: the one read with the rule will do.
    if Rule.agreement.is_cached(rule):
        couple_id = rule.agreement.couple_id
    else:
        couple_id = Agreement.objects.values_list("couple_id", flat=True).get(pk=rule.agreement_id)
    agreement, partner = _lock_agreement(rule.agreement_id, couple_id, partner)
    locked = Rule.objects.select_for_update(no_key=True).get(pk=rule.pk)
    locked.agreement = agreement
    if locked.lapse_unrecorded:
        # Every reader shows it resting already: the action sees (and writes) the same.
        _write_lapse(locked)
    return locked, partner


def _check_waiting(rule: Rule, version_id: int, partner: Partner) -> None:
    if rule.pending_version_id is None:
        if rule.is_resting:
            if rule.may_reopen(partner.pk):
                raise ConsentError(
                    _("You withdrew consent from this rule. Reopen it to propose it again.")
                )
            raise ConsentError(
                _(
                    "Your partner withdrew consent from this rule: only they can reopen it. "
                    "You can propose a different wording."
                )
            )
        messages = {
            State.ACTIVE: _("This rule is already in force, with no change waiting."),
            State.DECLINED: _("This proposal was declined. Propose a change to open it again."),
            State.ARCHIVED: _("This rule is archived. Restore it first."),
        }
        raise ConsentError(messages.get(rule.state, _("Nothing is waiting on this rule.")))
    if rule.pending_version_id != version_id:
        raise StaleVersion(
            _(
                "The wording changed since you loaded the page, so nothing was recorded. "
                "Here is the new wording."
            )
        )


def _new_version(
    rule: Rule, partner: Partner, *, title: str, text: str, review_after: str = ""
) -> RuleVersion:
    number = rule.versions.aggregate(last=Max("number"))["last"] or 0
    return RuleVersion.objects.create(
        rule=rule,
        number=number + 1,
        previous=rule.wording or rule.latest_version,
        title=title,
        text=text,
        author=partner,
        review_after=review_after,
    )


def _clear_resting(rule: Rule) -> None:
    rule.agreed_version = None
    rule.withdrawn_by = None
    rule.withdrawn_at = None


def _last_agreement_event_is(agreement: Agreement, kind: str, partner: Partner, note: str) -> bool:
    """Whether the agreement's latest event about no rule in particular is this one."""
    last = (
        agreement.events.filter(rule__isnull=True)
        .order_by("-created_at", "-pk")
        .only("kind", "partner_id", "note")
        .first()
    )
    return last is not None and (last.kind, last.partner_id, last.note) == (kind, partner.pk, note)


def _last_event_is(rule: Rule, kind: str, partner: Partner) -> bool:
    last = rule.events.order_by("-created_at", "-pk").values_list("kind", "partner_id").first()
    return last == (kind, partner.pk)


def _live_acceptors(version_id: int) -> set[int]:
    return set(
        Acceptance.objects.filter(version_id=version_id, withdrawn_at__isnull=True).values_list(
            "partner_id", flat=True
        )
    )


def _withdraw_acceptances(version_id: int | None, *, now: datetime | None = None) -> None:
    if version_id:
        Acceptance.objects.filter(version_id=version_id, withdrawn_at__isnull=True).update(
            withdrawn_at=now or timezone.now()
        )


def _record_and_tell(
    rule: Rule, partner: Partner, kind: str, version: RuleVersion | None, note: str = ""
) -> None:
    """A partner's change of `rule` in the ledger, and the other partner told of it."""
    record_event(rule.agreement, kind, partner=partner, rule=rule, version=version, note=note)
    notify.partner_of(partner)


def record_event(agreement: Agreement, kind: str, **fields) -> Event:
    """The one way an event is written (by the agreement services only); moves the revision, or
    for a sealed answer only its author's (`private_to`): nobody else can tell it happened."""
    # The clock read here, not the field's default: what a review compares with (review_at) is
    # read from the same clock.
    fields.setdefault("created_at", timezone.now())
    event = Event.objects.create(agreement=agreement, kind=kind, **fields)
    if event.private_to_id is not None:
        revision.move_sealed(event.private_to_id)
    else:
        revision.move([agreement.pk])
    return event
