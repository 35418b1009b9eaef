"""Check-ins: "How was it for you?", answered apart, sealed, and revealed to both together.

A check-in is open until both partners have sealed an answer (then it is revealed, once) or until
it is let go or left untouched for STALE_AFTER (then it is closed and never revealed: each partner
keeps only their own answer, for themselves alone).
"""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Couple, Partner
from agreements.models import Rule
from intimacy.crypto import EncryptedTextField

STALE_AFTER = timedelta(days=14)
MAX_TOPIC = 80
MAX_ANSWER = 2000
MAX_REPLY = 500


class CheckIn(models.Model):
    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="checkins")
    topic = EncryptedTextField(blank=True)
    rules = models.ManyToManyField(Rule, blank=True, related_name="+")
    started_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The last time anyone started, sealed or reopened an answer: the clock of STALE_AFTER.
    touched_at = models.DateTimeField(default=timezone.now)
    revealed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Null on a closed check-in: nobody let it go, it went stale.
    let_go_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["couple"],
                condition=Q(revealed_at__isnull=True, closed_at__isnull=True),
                name="one_open_checkin_per_couple",
            ),
            models.CheckConstraint(
                condition=Q(revealed_at__isnull=True) | Q(closed_at__isnull=True),
                name="checkin_revealed_or_closed_not_both",
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.revealed_at is None and self.closed_at is None

    @property
    def is_revealed(self) -> bool:
        return self.revealed_at is not None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def is_stale(self) -> bool:
        return self.is_open and self.touched_at <= timezone.now() - STALE_AFTER


class Answer(models.Model):
    """One partner's answer. Until the check-in is revealed, only its writer may read it."""

    class Overall(models.IntegerChoices):
        HURT = 1, "It hurt, or I wanted to stop"
        NOT_GOOD = 2, "Not good for me"
        MIXED = 3, "Mixed, or just OK"
        GOOD = 4, "Good"
        WONDERFUL = 5, "Wonderful"

    class WantedToStop(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        RATHER_NOT = "rather_not", "I would rather not say"

    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="answers")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    sensation = EncryptedTextField(blank=True)
    emotion = EncryptedTextField(blank=True)
    want = EncryptedTextField(blank=True)
    overall = models.PositiveSmallIntegerField(choices=Overall.choices, null=True, blank=True)
    # "" when not answered.
    wanted_to_stop = models.CharField(max_length=10, choices=WantedToStop.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sealed_at = models.DateTimeField(null=True, blank=True)
    reply = EncryptedTextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    # Both partners' flags must be on for a therapist to read a revealed check-in.
    shared_with_therapist = models.BooleanField(default=False)

    class Meta:
        ordering = ["partner__joined_at", "partner_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["checkin", "partner"], name="one_answer_per_partner_and_checkin"
            ),
            models.CheckConstraint(
                condition=Q(overall__isnull=True) | Q(overall__gte=1, overall__lte=5),
                name="answer_overall_one_to_five",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer {self.pk} to check-in {self.checkin_id}"

    @property
    def is_sealed(self) -> bool:
        return self.sealed_at is not None

    @property
    def asks_for_care(self) -> bool:
        """The lowest step, or a moment of wanting to stop that went unsaid."""
        return self.overall == self.Overall.HURT or self.wanted_to_stop == self.WantedToStop.YES
