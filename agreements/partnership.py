"""The agreement's side of a partnership's life: started with the couple, archived when it ends,
erased when nobody can open it any more. accounts.linking and accounts.erasure call these (and
nothing else of the agreement's internals)."""

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Couple, Invitation, Partner
from agreements import consent, drafts
from agreements.consent import create_agreement, record_event
from agreements.defaults import in_active_language
from agreements.models import (
    Acceptance,
    Agreement,
    Comment,
    Event,
    Rule,
    RuleVersion,
    TherapistAccess,
)


def default_rules() -> list[tuple[str, str]]:
    """The nine rules (title, wording) every agreement starts with, in the reader's language: the
    landing page shows them."""
    return in_active_language()


def start_agreement(*, couple: Couple) -> Agreement:
    """The new couple's agreement, with the nine default rules, and what each partner drafted
    before the other joined as their own proposals (agreements.drafts).

    The defaults are written in the language of the partner who invited (the site's when they
    chose none), whoever's request this is, and stored as ordinary wording: they never change
    language by themselves afterwards."""
    invitation = Invitation.objects.filter(couple=couple).select_related("inviter").first()
    language = invitation.inviter.language if invitation is not None else ""
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    with transaction.atomic(), translation.override(language):
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


class NotYours(Exception):
    """Only a partner of an ended partnership takes their words out of its archive."""


def remove_words_of(*, seat_id: int) -> Partner:
    """The agreement's side of "your words leave with you": every note this partner wrote (with
    a proposal, an answer, a withdrawal, a pause …) and every comment they replied become
    "removed by its author"; the rules' wording stays (both partners wrote what came into force).
    For an ended partnership only. Locks the couple, then the agreement, then the seat; writes an
    event (which moves the revision). Done once: a second call changes nothing."""
    with transaction.atomic():
        seat = Partner.objects.get(pk=seat_id)
        couple = Couple.objects.select_for_update(no_key=True).get(pk=seat.couple_id)
        if couple.ended_at is None:
            raise NotYours(_("The partnership has not ended."))
        agreement = Agreement.objects.select_for_update(no_key=True).filter(couple=couple).first()
        seat = Partner.objects.select_for_update(no_key=True).get(pk=seat_id)
        if seat.words_removed_at is not None:
            return seat
        now = timezone.now()
        if agreement is not None:
            noted = [
                event.pk
                for event in Event.objects.filter(agreement=agreement, partner=seat).only("note")
                if event.note
            ]
            Event.objects.filter(pk__in=noted).update(note="", note_removed=True)
            Comment.objects.filter(agreement=agreement, partner=seat).update(text="", removed=True)
            RuleVersion.objects.filter(pk__in=_proposed_alone(agreement, seat)).update(
                title="", text="", removed=True
            )
            if agreement.paused_by_id == seat.pk and agreement.pause_note:
                agreement.pause_note = ""
                agreement.save(update_fields=["pause_note"])
        seat.words_removed_at = now
        seat.save(update_fields=["words_removed_at"])
        if agreement is not None:
            record_event(agreement, Event.Kind.WORDS_REMOVED, partner=seat)
    return seat


def _proposed_alone(agreement: Agreement, seat: Partner) -> list[int]:
    """The wordings this partner proposed that never came into force with both of them: no
    "came into force" for it, never the rule's wording in force or agreed, never accepted by two
    partners, and not the same words as a wording that was (a reopening proposes the agreed
    wording again). The others were written together, and stay."""
    rules = list(agreement.rules.values_list("current_version_id", "agreed_version_id"))
    together = {pk for pair in rules for pk in pair if pk is not None}
    together |= set(
        Event.objects.filter(agreement=agreement, kind=Event.Kind.IN_FORCE).values_list(
            "version_id", flat=True
        )
    )
    together |= {
        version_id
        for version_id, partners in Acceptance.objects.filter(version__rule__agreement=agreement)
        .values("version_id")
        .annotate(partners=Count("partner_id", distinct=True))
        .values_list("version_id", "partners")
        if partners >= 2
    }
    versions = list(
        RuleVersion.objects.filter(rule__agreement=agreement).only("rule_id", "author_id", "text")
    )
    shared_words = {(v.rule_id, consent.normalise(v.text)) for v in versions if v.pk in together}
    return [
        v.pk
        for v in versions
        if v.author_id == seat.pk
        and v.pk not in together
        and (v.rule_id, consent.normalise(v.text)) not in shared_words
    ]
