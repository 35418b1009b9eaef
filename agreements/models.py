"""The shared agreement: rules, their immutable versions, acceptances and the event ledger."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Couple, Partner
from intimacy.crypto import EncryptedTextField

MAX_TEXT = 2000
MAX_TITLE = 120
MAX_NOTE = 1000
FORMER_THERAPIST = "former therapist"
CLIENT_LINK_LIFETIME = timedelta(days=14)
MAX_PROMPT = 500


class Agreement(models.Model):
    couple = models.OneToOneField(Couple, on_delete=models.CASCADE, related_name="agreement")
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped with every event; the poll's ETag.
    revision = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Agreement {self.pk}"

    @property
    def is_archived(self) -> bool:
        return self.couple.ended_at is not None

    @property
    def etag(self) -> str:
        return self.make_etag(self.pk, self.revision)

    @staticmethod
    def make_etag(pk: int, revision: int) -> str:
        """The poll's ETag. app.js reads the revision from the page's data-revision, never
        from this string."""
        return f'"a{pk}r{revision}"'


class Rule(models.Model):
    class State(models.TextChoices):
        PROPOSED = "proposed", "Waiting for acceptance"
        ACTIVE = "active", "In force"
        PAUSED = "paused", "Paused"
        DECLINED = "declined", "Declined"
        ARCHIVED = "archived", "Archived"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    # The version both partners accepted, while the rule is in force.
    current_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The version waiting for acceptance: a proposal, a pending change, or the wording to restore.
    pending_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The newest wording of all, whatever its fate.
    latest_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    in_force_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "position"], name="rule_position_unique"),
            models.CheckConstraint(
                condition=Q(state="active", current_version__isnull=False)
                | (~Q(state="active") & Q(current_version__isnull=True)),
                name="in_force_exactly_when_active",
            ),
        ]

    def __str__(self) -> str:
        return f"Rule {self.pk}"

    @property
    def is_in_force(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def shown_version(self) -> "RuleVersion":
        return self.current_version or self.pending_version or self.latest_version

    @property
    def has_pending_change(self) -> bool:
        return self.state == self.State.ACTIVE and self.pending_version_id is not None


class RuleVersion(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = EncryptedTextField(blank=True)
    text = EncryptedTextField()
    author = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"Rule {self.rule_id} v{self.number}"


class Acceptance(models.Model):
    """One partner's consent to one exact version. It ends (withdrawn_at) but is never removed."""

    version = models.ForeignKey(RuleVersion, on_delete=models.CASCADE, related_name="acceptances")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="acceptances")
    created_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "partner"],
                condition=Q(withdrawn_at__isnull=True),
                name="one_live_acceptance_per_partner_and_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner} accepts {self.version}"


class Event(models.Model):
    """The append-only ledger of everything that happens to an agreement."""

    class Kind(models.TextChoices):
        CREATED = "created", "Agreement started with the default rules"
        PROPOSED_RULE = "proposed_rule", "Proposed a new rule"
        PROPOSED_CHANGE = "proposed_change", "Proposed a change"
        ACCEPTED = "accepted", "Accepted"
        IN_FORCE = "in_force", "Came into force"
        NOT_YET = "not_yet", "Not yet"
        DECLINED = "declined", "Declined"
        WITHDREW = "withdrew", "Withdrew consent"
        ARCHIVED = "archived", "Archived the rule"
        RESTORED = "restored", "Restored the rule as a proposal"
        COMMENTED = "commented", "Commented"
        ACCESS_REQUESTED = "access_requested", "Asked to give a therapist access"
        ACCESS_GRANTED = "access_granted", "Agreed to give a therapist access"
        ACCESS_DECLINED = "access_declined", "Declined therapist access"
        ACCESS_ENDED = "access_ended", "Ended therapist access"
        PARTNERSHIP_ENDED = "partnership_ended", "Ended the partnership"
        SCOPE_WIDEN_ASKED = "scope_widen_asked", "Asked to share the history with the therapist"
        SCOPE_WIDENED = "scope_widened", "Agreed to share the history with the therapist"
        SCOPE_NARROWED = "scope_narrowed", "Limited the therapist's access to the rules"
        SUGGESTED_RULE = "suggested_rule", "Suggested a rule"
        SUGGESTED_WORDING = "suggested_wording", "Suggested new wording"
        SUGGESTION_ADOPTED = (
            "suggestion_adopted",
            "Adopted the therapist's suggestion as a proposal",
        )
        SUGGESTION_SET_ASIDE = "suggestion_set_aside", "Set the therapist's suggestion aside"
        CHECKIN_INVITED = "checkin_invited", "Invited the couple to a check-in"
        EXERCISE_STARTED = "exercise_started", "Started the check-in the therapist suggested"
        CHECKIN_REVEALED = "checkin_revealed", "Check-in revealed"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="events")
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    version = models.ForeignKey(
        RuleVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    note = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["agreement", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.agreement_id}"

    @property
    def actor_name(self) -> str:
        if self.partner_id:
            return self.partner.name
        if self.kind == self.Kind.CREATED:
            return "Rules of the Road"
        return self.therapist.display_name if self.therapist_id else FORMER_THERAPIST


class Comment(models.Model):
    """A therapist's review comment, or a partner's reply, on a rule or the whole agreement."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="comments")
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment {self.pk}"

    @property
    def author_name(self) -> str:
        if self.partner_id:
            return self.partner.name
        return self.therapist.display_name if self.therapist_id else FORMER_THERAPIST

    @property
    def by_therapist(self) -> bool:
        return self.partner_id is None


class TherapistAccess(models.Model):
    """A therapist's read-only access, asked for by one partner and agreed by the other."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for the other partner"
        ACTIVE = "active", "Has access"
        DECLINED = "declined", "Declined"
        ENDED = "ended", "Ended"

    class Scope(models.TextChoices):
        RULES = "rules", "the rules"
        HISTORY = "history", "the rules and our history"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="therapist_accesses"
    )
    # Null when no therapist account has the email typed: that request simply never starts.
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="client_accesses",
    )
    # Typed by a partner in the old email request flow; empty for an access made from a link.
    email = EncryptedTextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    # What the couple shares, chosen by them. Accesses from before the levels existed count as
    # the narrower level: nobody agreed to share more.
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.RULES)
    # A widening one partner asked for, waiting for the other; blank when none is waiting.
    requested_scope = models.CharField(max_length=10, choices=Scope.choices, blank=True)
    scope_requested_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The words both partners saw when they agreed, kept as they read them.
    statement = models.TextField(blank=True)
    client_link = models.ForeignKey(
        "ClientLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="accesses"
    )
    requested_by = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    granted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "pk"]
        indexes = [models.Index(fields=["therapist", "status"])]

    def __str__(self) -> str:
        return f"Therapist access {self.pk}"

    @property
    def therapist_name(self) -> str:
        if self.therapist_id is None:
            return FORMER_THERAPIST
        name = self.therapist.display_name
        return f"{name} ({self.therapist.practice_name})" if self.therapist.practice_name else name

    @property
    def points_at_nobody(self) -> bool:
        """Asked for by email before links existed, for an address no therapist account had."""
        return self.therapist_id is None

    @property
    def shares_history(self) -> bool:
        return self.scope == self.Scope.HISTORY


# -- a therapist's practice with a couple ---------------------------------------------------------


def link_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClientLink(models.Model):
    """A one-time link a therapist sends to a couple by their own means. Only the digest of its
    token is stored: the therapist sees the link once, when it is made."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_links"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Set when a partner asks with it: from then on the link opens nothing.
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "pk"]

    def __str__(self) -> str:
        return f"Client link {self.pk}"

    @classmethod
    def new(cls, therapist) -> tuple["ClientLink", str]:
        """An unsaved link and its token (256 bits), which is never stored."""
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        link = cls(
            therapist=therapist,
            token_digest=link_token_digest(token),
            created_at=now,
            expires_at=now + CLIENT_LINK_LIFETIME,
        )
        return link, token

    @property
    def is_usable(self) -> bool:
        return (
            self.cancelled_at is None
            and self.used_at is None
            and timezone.now() < self.expires_at
            and self.therapist.is_active
            and self.therapist.is_therapist
        )


class Suggestion(models.Model):
    """A rule or a wording a therapist offers. It is nobody's proposal and nobody's acceptance
    until a partner adopts it; then it goes through the ordinary consent workflow."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for you both"
        ADOPTED = "adopted", "Adopted as a proposal"
        SET_ASIDE = "set_aside", "Set aside"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="suggestions")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The rule whose wording it would change; none for a suggested new rule.
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions"
    )
    # The wording the therapist read when suggesting, to show what would change.
    based_on = models.ForeignKey(
        RuleVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = EncryptedTextField(blank=True)
    text = EncryptedTextField()
    note = EncryptedTextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    adopted_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopted_rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopted_version = models.ForeignKey(
        RuleVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_aside_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "pk"]

    def __str__(self) -> str:
        return f"Suggestion {self.pk}"

    @property
    def therapist_name(self) -> str:
        return self.therapist.display_name if self.therapist_id else FORMER_THERAPIST

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class SessionNote(models.Model):
    """A therapist's own notes about one couple: read by their author only, never by the couple."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_notes"
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="+")
    text = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["therapist", "agreement"], name="one_session_note_per_therapist_and_couple"
            )
        ]

    def __str__(self) -> str:
        return f"Session note {self.pk}"


class CheckInInvitation(models.Model):
    """An exercise between sessions: the therapist invites the couple to a check-in, optionally
    about a rule, with a prompt of their own. Both partners see it as a check-in ready to start."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="checkin_invitations"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="checkin_invitations"
    )
    prompt = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "pk"]

    def __str__(self) -> str:
        return f"Check-in invitation {self.pk}"

    @property
    def therapist_name(self) -> str:
        return self.therapist.display_name if self.therapist_id else FORMER_THERAPIST
