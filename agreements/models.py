"""The shared agreement: rules, their immutable versions, acceptances and the event ledger."""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Couple, Partner
from intimacy.crypto import EncryptedTextField
from intimacy.validators import validate_one_line

MAX_TEXT = 2000
MAX_TITLE = 120
MAX_NOTE = 1000
FORMER_THERAPIST = "former therapist"


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
        return f'"a{self.pk}r{self.revision}"'


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
    title = EncryptedTextField(
        blank=True, validators=[validate_one_line, MaxLengthValidator(MAX_TITLE)]
    )
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
    def sentence(self) -> str:
        """What happened, in words, for the timeline and rule history."""
        subject = ""
        if self.version_id:
            subject = f"“{self.version.title or 'a rule'}” (version {self.version.number})"
        if self.kind == self.Kind.CREATED:
            return "The agreement started with the nine default rules, all waiting for acceptance"
        if self.kind == self.Kind.IN_FORCE:
            return f"{subject or 'A rule'} came into force, accepted by both partners"
        verbs = {
            self.Kind.PROPOSED_RULE: "proposed a new rule",
            self.Kind.PROPOSED_CHANGE: "proposed a change to",
            self.Kind.ACCEPTED: "accepted",
            self.Kind.NOT_YET: "said not yet to",
            self.Kind.DECLINED: "declined",
            self.Kind.WITHDREW: "withdrew consent from",
            self.Kind.ARCHIVED: "archived",
            self.Kind.RESTORED: "restored",
            self.Kind.COMMENTED: "commented on",
        }
        verb = verbs.get(self.kind)
        if verb is None:
            return f"{self.actor_name} {self.get_kind_display()[0].lower()}{self.get_kind_display()[1:]}"
        if self.kind == self.Kind.COMMENTED and not subject:
            subject = "the agreement"
        return f"{self.actor_name} {verb}{': ' if self.kind == self.Kind.PROPOSED_RULE and subject else ' '}{subject}".rstrip()

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
    email = EncryptedTextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    granted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    # The visit before last_viewed_at: what is new is counted from here while a visit lasts.
    previous_viewed_at = models.DateTimeField(null=True, blank=True)

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
