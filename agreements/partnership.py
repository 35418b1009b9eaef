"""The agreement's side of a partnership's life: started with the couple, archived when it ends,
erased when nobody can open it any more. accounts.linking and accounts.erasure call these (and
nothing else of the agreement's internals)."""

from django.db import transaction
from django.utils import timezone

from accounts.models import Couple, Partner
from agreements import drafts
from agreements.consent import create_agreement, record_event
from agreements.defaults import DEFAULT_RULES
from agreements.models import Acceptance, Agreement, Event, Rule, RuleVersion, TherapistAccess


def default_rules() -> list[tuple[str, str]]:
    """The nine rules (title, wording) every agreement starts with: the landing page shows them."""
    return DEFAULT_RULES


def start_agreement(*, couple: Couple) -> Agreement:
    """The new couple's agreement, with the nine default rules, and what each partner drafted
    before the other joined as their own proposals (agreements.drafts)."""
    with transaction.atomic():
        agreement = create_agreement(couple=couple)
        drafts.promote(couple=couple, agreement=agreement)
    return agreement


def archive_agreement(*, couple: Couple, ended_by: Partner) -> None:
    """The partnership ended: the agreement becomes read-only (consent.py refuses every change
    once the couple has ended) and every therapist access, live or asked for, ends with it.

    The caller holds the couple's row lock and touches the seats only afterwards. The access rows
    are ended before the agreement row is locked: agreements.therapy locks an access and then the
    agreement, so this order (couple, accesses, agreement, seats) never waits in a cycle with it,
    nor with consent.py (couple, agreement, rule, seats)."""
    agreement_id = Agreement.objects.filter(couple=couple).values_list("pk", flat=True).first()
    if agreement_id is None:
        return
    TherapistAccess.objects.filter(
        agreement_id=agreement_id,
        status__in=[TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE],
    ).update(status=TherapistAccess.Status.ENDED, ended_at=timezone.now())
    agreement = Agreement.objects.select_for_update(no_key=True).get(pk=agreement_id)
    record_event(agreement, Event.Kind.PARTNERSHIP_ENDED, partner=ended_by)


def erase_couple_data(*, couple: Couple) -> None:
    """The couple and everything of its agreement, for a couple nobody can open any more.
    Versions and seats are protected by what refers to them (the rule's pointers, acceptances,
    events, comments), so the agreement is taken apart from the leaves up."""
    with transaction.atomic():
        agreement = Agreement.objects.filter(couple=couple).first()
        if agreement is not None:
            agreement.events.all().delete()
            agreement.comments.all().delete()
            agreement.therapist_accesses.all().delete()
            agreement.rules.update(
                state=Rule.State.ARCHIVED,
                current_version=None,
                pending_version=None,
                latest_version=None,
                agreed_version=None,
                withdrawn_by=None,
                withdrawn_at=None,
                proposed_by=None,
            )
            versions = RuleVersion.objects.filter(rule__agreement=agreement)
            Acceptance.objects.filter(version__in=versions).delete()
            versions.update(previous=None)
            versions.delete()
            agreement.delete()
        couple.delete()
