"""People and pairs: accounts, couples (a pair of partner seats) and invitations."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from intimacy.crypto import EncryptedTextField
from intimacy.validators import validate_one_line, validate_time_zone

INVITATION_LIFETIME = timedelta(days=7)
FORMER_PARTNER = "former partner"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=60, validators=[validate_one_line])
    is_therapist = models.BooleanField(default=False)
    practice_name = models.CharField(max_length=120, blank=True, validators=[validate_one_line])
    # "Your partner updated your shared agreement" emails; at most one an hour, and they can be
    # turned off on the settings page.
    partner_update_emails = models.BooleanField(default=True)
    # The short explanation of answering shown on the agreement page until its reader hides it
    # (accounts.profile.dismiss_introduction); it never comes back after that.
    introduction_dismissed_at = models.DateTimeField(null=True, blank=True)
    # Where this person is: every date and time they read (pages, emails, timeline days) is in
    # this zone (intimacy.middleware.time_zone; intimacy.emails.render). Taken from the browser
    # at sign-up, changed in Settings.
    time_zone = models.CharField(
        max_length=64, default="UTC", db_default="UTC", validators=[validate_time_zone]
    )
    # The language this person reads the app and their emails in (intimacy.language; emails in
    # the recipient's, whoever caused them). Blank: the browser's wish (Accept-Language).
    language = models.CharField(
        max_length=8, blank=True, default="", db_default="", choices=settings.LANGUAGES
    )
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    objects = UserManager()

    def __str__(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name

    def get_full_name(self) -> str:
        return self.display_name

    def current_partner_seat(self) -> "Partner | None":
        return (
            Partner.objects.select_related("couple").filter(user=self, left_at__isnull=True).first()
        )


class Couple(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Couple {self.pk}"


class Partner(models.Model):
    """A seat in a couple. It outlives the account: a deleted person stays "former partner"."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="partners")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_seats"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    # The partner's visits to the agreement page (agreements/visits.py): when they last looked,
    # and when their previous visit was, for "since your last visit".
    seen_at = models.DateTimeField(null=True, blank=True)
    previous_visit_at = models.DateTimeField(null=True, blank=True)
    # Moved when this partner gives a sealed answer (agreements/revision.py): their own pages
    # show it, nobody else's do; their open page's ETag is made of it and the agreement's revision.
    sealed_revision = models.PositiveBigIntegerField(default=0, db_default=0)
    # When this partner took their own words out of the couple's archive (intimacy.privacy
    # .remove_words: from the archive, or on deleting their account). Their notes, comments and
    # check-in answers then read "removed by its author"; the rules' wording stays.
    words_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(left_at__isnull=True),
                name="one_current_couple_per_person",
            ),
            models.UniqueConstraint(
                fields=["couple", "user"], name="one_seat_per_person_per_couple"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_of(self.user.display_name if self.user_id else None)

    @staticmethod
    def name_of(display_name: str | None) -> str:
        """A seat's name from its person's display name (None once the account is gone), for
        lists that read the names without building the seats."""
        return FORMER_PARTNER if display_name is None else display_name


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def standing_for(self, inviter: "User") -> "Invitation | None":
        """The person's latest invitation, while it still says something: open (waiting or
        expired) or declined. One they cancelled or that was accepted says nothing any more."""
        latest = self.filter(inviter=inviter).order_by("-created_at", "-pk").first()
        if latest is None or latest.status not in (
            Invitation.Status.OPEN,
            Invitation.Status.DECLINED,
        ):
            return None
        return latest

    def find(self, token: str) -> "Invitation | None":
        if not token or len(token) > 100:
            return None
        return self.select_related("inviter").filter(token_digest=_token_digest(token)).first()


class Invitation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "open"
        CANCELLED = "cancelled", "cancelled"
        DECLINED = "declined", "declined"
        ACCEPTED = "accepted", "accepted"

    inviter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    # The token itself is kept encrypted so that the inviter can copy the link again; lookups go
    # through its digest.
    token = EncryptedTextField()
    token_digest = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    couple = models.ForeignKey(Couple, null=True, blank=True, on_delete=models.SET_NULL)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inviter"],
                condition=Q(status="open"),
                name="one_open_invitation_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation from {self.inviter}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:invitation", args=[self.token])

    @classmethod
    def new(cls, inviter: User, email: str = "") -> "Invitation":
        token = secrets.token_urlsafe(32)  # 256 bits
        now = timezone.now()
        return cls(
            inviter=inviter,
            token=token,
            token_digest=_token_digest(token),
            email=email,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.OPEN and timezone.now() < self.expires_at

    @property
    def has_expired(self) -> bool:
        return self.status == self.Status.OPEN and timezone.now() >= self.expires_at

    @property
    def was_declined(self) -> bool:
        return self.status == self.Status.DECLINED
