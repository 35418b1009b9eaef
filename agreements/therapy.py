"""Therapist access and review comments: access starts only when both partners agree, and either
partner (or the therapist) can end it alone, at once."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Partner, User
from agreements.consent import ConsentError, record_event
from agreements.models import Agreement, Comment, Event, Rule, TherapistAccess
from intimacy import emails

Status = TherapistAccess.Status
Kind = Event.Kind


def _check_current(partner: Partner, agreement: Agreement) -> Agreement:
    agreement = Agreement.objects.select_for_update().select_related("couple").get(pk=agreement.pk)
    if partner.couple_id != agreement.couple_id or partner.left_at is not None:
        raise PermissionError("Only a current partner of this couple may do this.")
    if agreement.couple.ended_at is not None:
        raise ConsentError("This agreement is archived: it can be read and printed, not changed.")
    return agreement


def request_access(*, partner: Partner, agreement: Agreement, email: str) -> TherapistAccess:
    """Asks the other partner to agree. Whether a therapist has this email is never revealed."""
    email = email.strip().lower()
    with transaction.atomic():
        agreement = _check_current(partner, agreement)
        therapist = User.objects.filter(
            email__iexact=email, is_therapist=True, is_active=True
        ).first()
        open_ = agreement.therapist_accesses.filter(status__in=[Status.REQUESTED, Status.ACTIVE])
        for existing in open_:
            if existing.email.lower() == email:
                return existing  # asked already: nothing new to record
        access = TherapistAccess.objects.create(
            agreement=agreement, therapist=therapist, email=email, requested_by=partner
        )
        record_event(agreement, Kind.ACCESS_REQUESTED, partner=partner)
    return access


def respond(*, partner: Partner, access_id: int, agree: bool) -> TherapistAccess:
    with transaction.atomic():
        access = TherapistAccess.objects.select_for_update().get(pk=access_id)
        agreement = _check_current(partner, access.agreement)
        if access.status != Status.REQUESTED:
            raise ConsentError("This request has already been answered or ended.")
        if access.requested_by_id == partner.pk:
            raise ConsentError(
                "Your partner has to agree to this request; you asked for it already."
            )
        now = timezone.now()
        if agree:
            access.status = Status.ACTIVE
            access.approved_by = partner
            access.granted_at = now
            record_event(
                agreement, Kind.ACCESS_GRANTED, partner=partner, therapist=access.therapist
            )
            if access.therapist_id:
                emails.send(
                    "therapist_access",
                    access.therapist.email,
                    {"name": access.therapist.display_name},
                )
        else:
            access.status = Status.DECLINED
            access.ended_at = now
            record_event(agreement, Kind.ACCESS_DECLINED, partner=partner)
        access.save()
    return access


def end_access(
    *, access_id: int, partner: Partner | None = None, therapist: User | None = None
) -> None:
    """Ends (or withdraws a request for) a therapist's access, effective with the next request."""
    with transaction.atomic():
        access = (
            TherapistAccess.objects.select_for_update()
            .select_related("agreement")
            .get(pk=access_id)
        )
        if partner is not None and (
            partner.couple_id != access.agreement.couple_id or partner.left_at
        ):
            raise PermissionError
        if therapist is not None and access.therapist_id != therapist.pk:
            raise PermissionError
        if access.status not in (Status.REQUESTED, Status.ACTIVE):
            return  # already over: a double submit
        access.status = Status.ENDED
        access.ended_at = timezone.now()
        access.save(update_fields=["status", "ended_at"])
        record_event(access.agreement, Kind.ACCESS_ENDED, partner=partner, therapist=therapist)


def add_comment(
    *,
    agreement: Agreement,
    text: str,
    rule: Rule | None = None,
    partner: Partner | None = None,
    therapist: User | None = None,
) -> Comment:
    if (partner is None) == (therapist is None):
        raise ValueError("A comment has exactly one author: a partner or a therapist.")
    with transaction.atomic():
        if partner is not None:
            agreement = _check_current(partner, agreement)
        else:
            # Locks the access row that end_access also locks, so that a comment can never land
            # after a partner ended the access.
            live = (
                TherapistAccess.objects.select_for_update()
                .filter(agreement=agreement, therapist=therapist, status=Status.ACTIVE)
                .first()
            )
            if live is None:
                raise PermissionError("This therapist has no access to this agreement.")
        if rule is not None and rule.agreement_id != agreement.pk:
            raise PermissionError
        comment = Comment.objects.create(
            agreement=agreement, rule=rule, partner=partner, therapist=therapist, text=text.strip()
        )
        record_event(agreement, Kind.COMMENTED, rule=rule, partner=partner, therapist=therapist)
    return comment


# Opening the couple page again within this time is the same visit.
VISIT_LENGTH = timedelta(minutes=5)


def record_view(access: TherapistAccess, *, prefetch: bool = False) -> datetime | None:
    """The therapist opened the couple's agreement. A new visit starts (last_viewed_at, which the
    couple sees) at most once every VISIT_LENGTH, by one conditional UPDATE; reloads and
    prefetches change nothing. Returns the previous visit: "updates since your last visit" are
    counted from it for the whole visit, so a reload does not erase them."""
    if not prefetch:
        now = timezone.now()
        TherapistAccess.objects.filter(pk=access.pk).filter(
            Q(last_viewed_at__isnull=True) | Q(last_viewed_at__lte=now - VISIT_LENGTH)
        ).update(previous_viewed_at=F("last_viewed_at"), last_viewed_at=now)
    seen = TherapistAccess.objects.values("last_viewed_at", "previous_viewed_at").get(pk=access.pk)
    access.last_viewed_at = seen["last_viewed_at"]
    access.previous_viewed_at = seen["previous_viewed_at"]
    if prefetch:
        return access.last_viewed_at
    return access.previous_viewed_at
