"""Check-ins: "How was it for you?", answered apart, sealed, and revealed to both together.

A check-in is open until both partners have sealed an answer (then it is revealed, once) or until
it is let go or left untouched for STALE_AFTER (then it is closed and never revealed: each partner
keeps only their own answer, for themselves alone).

Going stale needs no write: the clock alone closes a check-in, and every reader asks the clock
here (`CheckIn.status`, `CheckIn.objects.open_now()`). The row's `closed_at` follows later, from
the next service that acts on it or from the `close_stale_checkins` command.
"""

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Couple, Partner
from agreements.models import Rule
from intimacy.crypto import EncryptedTextField

STALE_AFTER = timedelta(days=14)
MAX_TOPIC = 80
MAX_ANSWER = 2000
MAX_REPLY = 500


class CheckInQuerySet(models.QuerySet):
    def open_in_row(self) -> "CheckInQuerySet":
        """Neither revealed nor closed in the row, gone stale or not."""
        return self.filter(revealed_at__isnull=True, closed_at__isnull=True)

    def open_now(self, now: datetime | None = None) -> "CheckInQuerySet":
        """Open as of `now`: neither revealed nor closed, and touched within STALE_AFTER."""
        return self.open_in_row().filter(touched_at__gt=(now or timezone.now()) - STALE_AFTER)

    def stale(self, now: datetime | None = None) -> "CheckInQuerySet":
        """Closed by the clock as of `now`, and not yet in the row."""
        return self.open_in_row().filter(touched_at__lte=(now or timezone.now()) - STALE_AFTER)


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

    objects = CheckInQuerySet.as_manager()

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
        """Neither revealed nor closed in the row: what a service locks and changes. Whether
        it is still open by the clock is `is_open_now`."""
        return self.revealed_at is None and self.closed_at is None

    @property
    def is_revealed(self) -> bool:
        return self.revealed_at is not None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def closes_at(self) -> datetime:
        """When an open check-in goes stale, unless someone touches it before."""
        return self.touched_at + STALE_AFTER

    @property
    def is_stale(self) -> bool:
        """Open in the row, but closed by the clock: untouched for STALE_AFTER."""
        return self.is_open and timezone.now() >= self.closes_at

    @property
    def is_open_now(self) -> bool:
        return self.is_open and not self.is_stale

    @property
    def status(self) -> str:
        """What every reader shows: "open", "revealed", "let go" or "closed" (let go by nobody:
        it went stale, in the row or by the clock alone)."""
        if self.is_revealed:
            return "revealed"
        if self.is_closed:
            return "let go" if self.let_go_by_id else "closed"
        return "closed" if self.is_stale else "open"


class Answer(models.Model):
    """One partner's answer. Until the check-in is revealed, only its writer may read it."""

    class Overall(models.IntegerChoices):
        HURT = 1, _("It hurt, or I wanted to stop")
        NOT_GOOD = 2, _("Not good for me")
        MIXED = 3, _("Mixed, or just OK")
        GOOD = 4, _("Good")
        WONDERFUL = 5, _("Wonderful")

    class WantedToStop(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        RATHER_NOT = "rather_not", _("I would rather not say")

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
    # Its author took their words away (Partner.words_removed_at): the words, the rating and the
    # reply are gone; readers show "removed by its author" and the chart leaves it out.
    removed = models.BooleanField(default=False, db_default=False)

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
