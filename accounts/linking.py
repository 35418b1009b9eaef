"""Every change to who is linked with whom: invitations, forming a couple, ending it."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Couple, Invitation, Partner, User
from agreements import partnership
from intimacy import emails, ratelimit
from intimacy.db import retry_on_conflict
from intimacy.errors import ServiceError

Status = Invitation.Status


class LinkingError(ServiceError):
    """Linking refused: nothing was changed."""


INVALID_LINK = gettext_lazy(
    "This invitation link cannot be used. It may have expired, been cancelled or already been used."
)


# Invitation emails go to any address the inviter types, with the inviter's name in them: like
# allauth's own emails they are rate-limited, per account and per address (intimacy.ratelimit).
INVITATION_EMAILS_PER_ACCOUNT = (5, 60 * 60)  # at most 5 an hour from one account
INVITATION_EMAILS_PER_ADDRESS = (3, 24 * 60 * 60)  # at most 3 a day to one address
TOO_MANY_INVITATION_EMAILS = gettext_lazy(
    "You have sent several invitation emails in a short time, so we did not send this one. "
    "Try again later, or make the link without an email and send it to your partner yourself."
)


def create_invitation(*, inviter: User, email: str = "") -> Invitation:
    """A new invitation; an open one from the same person is cancelled first."""
    if inviter.is_therapist:
        raise LinkingError(_("A therapist account cannot join a couple as a partner."))
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=inviter.pk).first()
        if inviter.current_partner_seat():
            raise LinkingError(_("You are already linked with a partner."))
        if email and not _consume_invitation_email(inviter, email):
            raise LinkingError(TOO_MANY_INVITATION_EMAILS)
        _cancel_open(inviter)
        invitation = Invitation.new(inviter, email=email)
        invitation.save()
        if email:
            _send_invitation(inviter, invitation, email)
    return invitation


def _send_invitation(inviter: User, invitation: Invitation, email: str) -> None:
    # The name is data: one line, whatever an older row may hold.
    inviter_name = " ".join(inviter.display_name.split())
    emails.send(
        "invitation",
        email,
        {"inviter": inviter_name, "link": invitation.get_absolute_url()},
        language=inviter.language,
    )


def _consume_invitation_email(inviter: User, email: str) -> bool:
    """Counts one invitation email against both limits, unless either is reached already. Atomic
    across servers, and given back if the invitation is rolled back (intimacy.ratelimit)."""
    address = email.strip().lower()
    return ratelimit.take(
        ratelimit.Limit(f"invitation-email:account:{inviter.pk}", *INVITATION_EMAILS_PER_ACCOUNT),
        ratelimit.Limit(
            ratelimit.key("invitation-email:address", address), *INVITATION_EMAILS_PER_ADDRESS
        ),
    )


def email_invitation(*, inviter: User, email: str) -> Invitation:
    """The open invitation's link, emailed (again, or to another address), within the same
    limits as a new invitation's email."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=inviter.pk).first()
        invitation = (
            Invitation.objects.select_for_update()
            .filter(inviter=inviter, status=Status.OPEN)
            .first()
        )
        if invitation is None or not invitation.is_usable:
            raise LinkingError(
                _("This invitation is no longer open. Make a new one to send to your partner.")
            )
        if not _consume_invitation_email(inviter, email):
            raise LinkingError(TOO_MANY_INVITATION_EMAILS)
        invitation.email = email
        invitation.save(update_fields=["email"])
        _send_invitation(inviter, invitation, email)
    return invitation


def cancel_invitation(*, inviter: User) -> None:
    with transaction.atomic():
        _cancel_open(inviter)


def _cancel_open(inviter: User) -> None:
    Invitation.objects.filter(inviter=inviter, status=Status.OPEN).update(
        status=Status.CANCELLED, responded_at=timezone.now()
    )


def accept_invitation(*, token: str, user: User) -> Couple:
    """Forms the couple and its agreement in one transaction, and consumes the invitation."""
    try:
        with transaction.atomic():
            # Both people's rows first, in id order, as create_invitation and drafts.save_draft
            # lock a person's row before anything else: a draft written at this instant is
            # either in before the couple forms (and promoted) or refused after it.
            found = Invitation.objects.find(token)
            if found is not None:
                list(
                    User.objects.select_for_update()
                    .filter(pk__in=[found.inviter_id, user.pk])
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
            invitation = _lock_usable(token)
            if invitation.inviter_id == user.pk:
                raise LinkingError(_("This is your own invitation: send the link to your partner."))
            if user.is_therapist:
                raise LinkingError(_("A therapist account cannot join a couple as a partner."))
            if user.current_partner_seat():
                raise LinkingError(
                    _("You are already linked with a partner. End that partnership first.")
                )
            if invitation.inviter.current_partner_seat():
                raise LinkingError(INVALID_LINK)
            couple = Couple.objects.create()
            Partner.objects.create(couple=couple, user=invitation.inviter)
            Partner.objects.create(couple=couple, user=user)
            invitation.status = Status.ACCEPTED
            invitation.responded_at = timezone.now()
            invitation.couple = couple
            invitation.save(update_fields=["status", "responded_at", "couple"])
            # The acceptor may have an open invitation of their own: it has no use any more.
            _cancel_open(user)
            partnership.start_agreement(couple=couple)
    except IntegrityError:
        # The database refused a second current couple for one of the two (a race we lost).
        raise LinkingError(_("One of you is already linked with a partner.")) from None
    return couple


def decline_invitation(*, token: str, user: User | None = None) -> None:
    """Whoever holds the link may say no, signed in or not (`user` None): an invitee needs no
    account to decline. The inviter is then told, neutrally, that it was declined."""
    with transaction.atomic():
        invitation = _lock_usable(token)
        if user is not None and invitation.inviter_id == user.pk:
            raise LinkingError(
                _("This is your own invitation. You can cancel it from your home page.")
            )
        invitation.status = Status.DECLINED
        invitation.responded_at = timezone.now()
        invitation.save(update_fields=["status", "responded_at"])


def _lock_usable(token: str) -> Invitation:
    found = Invitation.objects.find(token)
    if found is None:
        raise LinkingError(INVALID_LINK)
    invitation = Invitation.objects.select_for_update().select_related("inviter").get(pk=found.pk)
    if not invitation.is_usable:
        raise LinkingError(INVALID_LINK)
    return invitation


@retry_on_conflict
def end_partnership(*, user: User) -> Couple:
    """Either partner, alone: the couple ends, its agreement is archived, both are free again.
    Locks in the order consent uses (couple, agreement, then the seats), so that an acceptance
    at the same instant lands before the end, or is refused after it."""
    with transaction.atomic():
        seat = user.current_partner_seat()
        if seat is None:
            raise LinkingError(_("You are not linked with a partner."))
        couple = Couple.objects.select_for_update(no_key=True).get(pk=seat.couple_id)
        if couple.ended_at is not None:
            raise LinkingError(_("This partnership has already ended."))
        now = timezone.now()
        couple.ended_at = now
        couple.save(update_fields=["ended_at"])
        partnership.archive_agreement(couple=couple, ended_by=seat)
        others = list(
            couple.partners.select_related("user").filter(left_at__isnull=True).exclude(pk=seat.pk)
        )
        couple.partners.filter(left_at__isnull=True).update(left_at=now)
        for other in others:
            if other.user_id:
                emails.send(
                    "partnership_ended",
                    other.user.email,
                    {"name": other.user.display_name, "when": now},
                    time_zone=other.user.time_zone,
                    language=other.user.language,
                )
    return couple
