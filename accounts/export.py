"""The accounts part of a person's export (intimacy/privacy.py composes the whole document): the
account with its email addresses, second factors, sessions and invitations sent. Texts are
decrypted; times are ISO 8601 in UTC, written by `iso`, which every part of the export uses."""

from datetime import UTC, datetime

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession

from accounts.models import Invitation, Partner, User


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, with a Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def account_data(user: User) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "display_name": user.display_name,
        "is_therapist": user.is_therapist,
        "practice_name": user.practice_name,
        "partner_update_emails": user.partner_update_emails,
        "date_joined": iso(user.date_joined),
        "last_login": iso(user.last_login),
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("pk")
        ],
        # What kind of second factor, and when; never the secrets themselves.
        "mfa_authenticators": [
            {
                "id": authenticator.pk,
                "type": authenticator.type,
                "created_at": iso(authenticator.created_at),
                "last_used_at": iso(authenticator.last_used_at),
            }
            for authenticator in Authenticator.objects.filter(user=user).order_by("pk")
        ],
        "sessions": [
            {
                "ip": session.ip,
                "user_agent": session.user_agent,
                "created_at": iso(session.created_at),
                "last_seen_at": iso(session.last_seen_at),
            }
            for session in UserSession.objects.filter(user=user).order_by("created_at")
        ],
        "invitations_sent": [
            {
                "id": invitation.pk,
                "email": invitation.email,
                "status": invitation.status,
                "created_at": iso(invitation.created_at),
                "expires_at": iso(invitation.expires_at),
                "responded_at": iso(invitation.responded_at),
                "couple_id": invitation.couple_id,
            }
            for invitation in Invitation.objects.filter(inviter=user).order_by("pk")
        ],
    }


def seats_of(user: User) -> list[Partner]:
    """Every seat this person has had, current or past, oldest couple first."""
    return list(
        Partner.objects.filter(user=user)
        .select_related("couple")
        .order_by("couple__created_at", "couple_id")
    )
