"""The shared agreement: rules, their immutable versions, acceptances and the event ledger."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.lookups import Exact
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Couple, Partner
from intimacy.crypto import EncryptedTextField
from intimacy.validators import validate_one_line

MAX_TEXT = 2000
MAX_TITLE = 120
MAX_NOTE = 1000
FORMER_THERAPIST = _("former therapist")
CLIENT_LINK_LIFETIME = timedelta(days=14)
# After a decline, how long the partner who was told no may not propose that rule again.
COOLING_OFF = timedelta(days=7)
MAX_PROMPT = 500
MAX_LABEL = 80
# Review dates (issue 24). A wording may carry a review interval, accepted with it; from the rule's
# review moment both are asked again (Keep it, Change it, Let it rest), and a rule nobody answered
# within REVIEW_GRACE rests by itself, nobody holding the key.
REVIEW_MONTHS = {"1m": 1, "3m": 3, "6m": 6, "12m": 12}
REVIEW_CHOICES = [
    ("", _("No review date")),
    ("1m", _("In a month")),
    ("3m", _("In three months")),
    ("6m", _("In six months")),
    ("12m", _("In a year")),
]
# The same intervals inside a sentence ("Comes up for review in a month once …"): their own
# strings, since a language may not lower-case a label (German nouns keep their capital).
REVIEW_PHRASES = {
    "1m": _("in a month"),
    "3m": _("in three months"),
    "6m": _("in six months"),
    "12m": _("in a year"),
}
REVIEW_GRACE = timedelta(days=14)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the last day of a shorter month)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28]
    days += [31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return moment.replace(year=year, month=month, day=min(moment.day, days[month - 1]))


def next_review(start: datetime, review_after: str) -> datetime | None:
    """When a wording with this review interval comes up for review, counted from `start`."""
    months = REVIEW_MONTHS.get(review_after)
    return add_months(start, months) if months else None


class Agreement(models.Model):
    couple = models.OneToOneField(Couple, on_delete=models.CASCADE, related_name="agreement")
    created_at = models.DateTimeField(default=timezone.now)
    # Moved by every change of what the couple's live region shows, by agreements/revision.py
    # only: the poll's ETag.
    revision = models.PositiveBigIntegerField(default=0)
    # Pause everything (consent.pause_everything): who paused, since when, and their note, until
    # they reopen all. Kept on this row, which every page reads anyway, so that showing the pause
    # costs no query. The rules it rested are the pauser's resting rules withdrawn since then.
    paused_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_note = EncryptedTextField(blank=True)

    def __str__(self) -> str:
        return f"Agreement {self.pk}"

    @property
    def is_paused(self) -> bool:
        return self.paused_by_id is not None

    @property
    def is_archived(self) -> bool:
        return self.couple.ended_at is not None

    def revision_for(self, seat) -> int:
        """What one viewer's pages are at: the agreement's revision, and for a partner their own
        sealed answers (a sealed answer moves only its author's). It only grows."""
        return self.revision + (seat.sealed_revision if seat is not None else 0)

    def etag_for(self, seat) -> str:
        return self.make_etag(
            self.pk, self.revision, seat.sealed_revision if seat else 0, self.next_clock_mark()
        )

    def next_clock_mark(self) -> "datetime | None":
        """The next moment the clock changes the page without any write: a rule in force comes
        up for review, or its review's grace runs out and it rests. None when no such moment is
        ahead. The ETag carries it, so that the poll knows without reading the rules."""
        if "_next_clock_mark" not in self.__dict__:
            now = timezone.now()
            marks = Rule.objects.filter(agreement_id=self.pk).aggregate(
                review=models.Min("review_at", filter=_in_force_row() & Q(review_at__gt=now)),
                grace=models.Min(
                    "review_at",
                    filter=_in_force_row() & Q(review_at__gt=now - REVIEW_GRACE),
                ),
            )
            self._next_clock_mark = _earliest(
                marks["review"], marks["grace"] and marks["grace"] + REVIEW_GRACE
            )
        return self._next_clock_mark

    def read_clock_from(self, rules) -> None:
        """The next clock mark from the agreement's rules a page read already (every rule not
        archived), instead of a query: the same answer as the aggregate in `next_clock_mark`."""
        now = timezone.now()
        moments = []
        for r in rules:
            if (r.state == Rule.State.ACTIVE or r.lapse_unrecorded) and r.review_at is not None:
                moments += [r.review_at, r.review_at + REVIEW_GRACE]
        self._next_clock_mark = min((at for at in moments if at > now), default=None)

    @staticmethod
    def make_etag(
        pk: int,
        revision: int,
        sealed_revision: int = 0,
        next_clock_mark: "datetime | None" = None,
    ) -> str:
        """The poll's ETag, for one viewer: what it was read at, and until when the clock leaves
        the page as it is (`held_etag`). app.js reads the revision from the page's
        data-revision, never from this string."""
        clock = "" if next_clock_mark is None else f"c{_microseconds(next_clock_mark)}"
        return f'"a{pk}r{revision}s{sealed_revision}{clock}"'

    @staticmethod
    def held_etag(if_none_match: str, pk: int, revision: int, sealed_revision: int) -> str | None:
        """The ETag among those the page sent that is still its page's now: read at this
        revision, and its next clock mark (if any) not come yet. None when none is."""
        base = f'"a{pk}r{revision}s{sealed_revision}'
        now = None
        for tag in if_none_match.split(","):
            tag = tag.strip().removeprefix("W/")  # GZipMiddleware weakens the page's ETag
            if not tag.startswith(base):
                continue
            rest = tag[len(base) :]
            if rest == '"':
                return tag
            if rest.startswith("c") and rest.endswith('"') and rest[1:-1].isdigit():
                now = now or _microseconds(timezone.now())
                if int(rest[1:-1]) > now:
                    return tag
        return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _earliest(*moments: "datetime | None") -> "datetime | None":
    return min((m for m in moments if m is not None), default=None)


def _in_force_row() -> Q:
    """A rule the clock may still change: in force in its row (a lapse not yet recorded
    included), its review date set."""
    return Q(state="active", review_at__isnull=False)


class ClockedModelIterable(models.query.ModelIterable):
    """Rules as the clock has them: a rule read past its lapse moment is resting (Rule.from_db
    decides), and the wording select_related read as "in force" is its agreed wording."""

    def __iter__(self):
        for rule in super().__iter__():
            if rule.lapse_unrecorded:
                rule._move_cached_wording()
            yield rule


class RuleQuerySet(models.QuerySet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._iterable_class = ClockedModelIterable

    def in_force_now(self) -> "RuleQuerySet":
        return self.filter(in_force_now())

    def resting_now(self) -> "RuleQuerySet":
        return self.filter(resting_now())

    def in_order(self) -> list["Rule"]:
        """The rules in the agreement's order, sorted here rather than by the query: building
        Django's ORDER BY costs more than sorting the rules of an agreement (measured in
        docs/benchmarks.md)."""
        return sorted(self.order_by(), key=lambda rule: (rule.position, rule.pk))


def in_force_now() -> Q:
    """In force at this moment, as the database can ask it (Rule._apply_clock's decision): a
    rule whose review went unanswered past REVIEW_GRACE is not, whatever its row says. A
    condition, for counts that ask it of many agreements at once."""
    return Q(state="active") & (
        Q(review_at__isnull=True) | Q(review_at__gt=timezone.now() - REVIEW_GRACE)
    )


def resting_now() -> Q:
    return Q(state="paused") | Q(state="active", review_at__lte=timezone.now() - REVIEW_GRACE)


class Rule(models.Model):
    """A rule of the agreement and its state machine.

    The pointers, by state (data-state values are fixed):
      proposed  pending = the proposal; nothing in force.
      active    current = the version in force; pending = a change waiting, or None.
      paused    resting after a withdrawal: agreed = the version both had agreed (in force
                again only if the withdrawer reopens it and the other accepts);
                pending = a separate proposal waiting (a change pending at the withdrawal, or a
                different wording either partner proposed since), or None.
      declined  pending None: the proposal ended (declined or taken back).
      archived  pending None.

    The ``may_*`` questions are asked by consent.py (which refuses exactly when they say no) and
    by the card (which offers exactly what they allow). They take the viewer's seat id and read
    only this row's own columns and, for may_accept and may_withdraw, the live acceptances of
    the pending version: pass ``accepted_by`` (seat ids; a card passes its round's, read with the
    page's rounds), or prefetch them as ``pending_version.live_acceptances``, or the question
    makes one query.
    """

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Waiting for acceptance")
        ACTIVE = "active", _("In force")
        PAUSED = "paused", _("Paused")
        DECLINED = "declined", _("Declined")
        ARCHIVED = "archived", _("Archived")

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="rules")
    # The rule's number, for life: never changes, and is never reused within an agreement.
    position = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    # The version both partners accepted, while the rule is in force.
    current_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The version waiting for answers: a proposal, a pending change, a restored or reopened
    # wording.
    pending_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The wording most recently put on the table, whatever its fate (the newest one, or the
    # agreed wording a withdrawer reopened): what a declined or archived rule shows.
    latest_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # While the rule rests (paused): the wording both had agreed, who withdrew and when. Only the
    # withdrawer can reopen it.
    agreed_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Who proposed what is waiting (the card says "Proposed by ..."): the author of a new
    # wording, or the partner who restored or reopened one. None for the nine defaults and when
    # nothing waits.
    proposed_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    in_force_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The last decline that ended a wording on this rule, once both had answered: whoever said no
    # holds the key. The other partner may not propose this rule (or new wording for it) again
    # for COOLING_OFF; the one who declined may reopen it at any time. None with a date: both
    # declined, and either may. Kept through archive and restore; cleared when the one who
    # declined puts wording on the table again, or when the rule comes into force.
    declined_by = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declined_at = models.DateTimeField(null=True, blank=True)
    # While in force with a review interval: the moment it comes up for review (set when it comes
    # into force, moved on when both keep it). From then it is due; REVIEW_GRACE later it lapses.
    review_at = models.DateTimeField(null=True, blank=True)
    # The review moment whose one email was queued (notify.review_due): sent once per review.
    review_told_for = models.DateTimeField(null=True, blank=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "position"], name="rule_position_unique"),
            models.CheckConstraint(
                condition=Q(state="active", current_version__isnull=False)
                | (~Q(state="active") & Q(current_version__isnull=True)),
                name="in_force_exactly_when_active",
            ),
            models.CheckConstraint(
                condition=Q(state="paused", agreed_version__isnull=False)
                | (~Q(state="paused") & Q(agreed_version__isnull=True)),
                name="agreed_wording_exactly_when_resting",
            ),
        ]

    def __str__(self) -> str:
        return f"Rule {self.pk}"

    # -- the clock: review dates ---------------------------------------------------------------

    # A rule read past its lapse moment whose lapse no service has written down yet: it is read as
    # resting (nobody holds the key), whatever its row says, and the next service that locks it,
    # or the review_rules command, writes the lapse (consent.record_lapse).
    lapse_unrecorded = False

    @classmethod
    def from_db(cls, db, field_names, values, *, fetch_mode=None):
        rule = super().from_db(db, field_names, values, fetch_mode=fetch_mode)
        rule._apply_clock(timezone.now())
        return rule

    def _apply_clock(self, now: datetime) -> None:
        """The state is a function of time: past its lapse moment a rule in force rests, read so
        by every reader (cards, poll, print, exports, therapist, services) without any write."""
        lapses_at = self.lapses_at
        if lapses_at is None or now < lapses_at:
            return
        self.lapse_unrecorded = True
        self.state = self.State.PAUSED
        self.agreed_version_id = self.current_version_id
        self.current_version_id = None
        self.withdrawn_by_id = None
        self.withdrawn_at = lapses_at
        self.in_force_since = None

    def _move_cached_wording(self) -> None:
        current = Rule._meta.get_field("current_version")
        agreed = Rule._meta.get_field("agreed_version")
        if current.is_cached(self):
            agreed.set_cached_value(self, current.get_cached_value(self))
            current.set_cached_value(self, None)
        elif agreed.is_cached(self):
            agreed.delete_cached_value(self)

    @property
    def lapses_at(self) -> "datetime | None":
        """When this rule in force rests by itself unless both have kept it (or None)."""
        if (
            self.__dict__.get("state") != self.State.ACTIVE
            or self.__dict__.get("review_at") is None
        ):
            return None
        return self.review_at + REVIEW_GRACE

    @property
    def review_due(self) -> bool:
        """In force and past its review moment: both are asked again (data-review-due)."""
        return (
            self.state == self.State.ACTIVE
            and self.review_at is not None
            and self.review_at <= timezone.now()
        )

    @property
    def has_lapsed(self) -> bool:
        """Resting because nobody answered its review in time: either partner may reopen it."""
        return self.state == self.State.PAUSED and self.withdrawn_by_id is None

    @property
    def number(self) -> int:
        """The rule's permanent number (its position): the same in the app and on paper."""
        return self.position

    @property
    def is_in_force(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def is_resting(self) -> bool:
        return self.state == self.State.PAUSED

    # -- the wordings ------------------------------------------------------------------------

    @property
    def wording(self) -> "RuleVersion":
        """The rule's own wording: the version in force; for a resting rule the wording both had
        agreed; for a proposal the proposed wording; for a declined or archived rule the latest."""
        return getattr(self, self.wording_field)

    @property
    def wording_id(self) -> int | None:
        """The id of `wording`, without reading it."""
        return getattr(self, f"{self.wording_field}_id")

    @property
    def wording_field(self) -> str:
        """Which of the rule's pointers is its own wording (see `wording`)."""
        if self.state == self.State.ACTIVE:
            return "current_version"
        if self.state == self.State.PAUSED:
            return "agreed_version"
        if self.state == self.State.PROPOSED:
            return "pending_version"
        return "latest_version"

    @property
    def change(self) -> "RuleVersion | None":
        """A proposal waiting beside the rule's own wording (in force or resting), or None."""
        if self.state in (self.State.ACTIVE, self.State.PAUSED):
            return self.pending_version
        return None

    @property
    def pending(self) -> "RuleVersion | None":
        """What is waiting for answers (the proposal or the change), or None."""
        return self.pending_version

    @property
    def draft(self) -> "RuleVersion":
        """The wording a change starts from: the newest one still on the table."""
        return self.pending_version or self.wording or self.latest_version

    # Kept for the templates that still ask; the same as ``wording``/``change``.
    @property
    def shown_version(self) -> "RuleVersion":
        return self.wording

    @property
    def has_pending_change(self) -> bool:
        return self.change is not None

    # -- the state machine: what this seat may do ---------------------------------------------

    def pending_accepted_by(self) -> set[int]:
        """Seat ids holding a live acceptance of the pending version."""
        version = self.pending_version
        if version is None:
            return set()
        live = getattr(version, "live_acceptances", None)
        if live is not None:
            return {a.partner_id for a in live}
        return set(
            version.acceptances.filter(withdrawn_at__isnull=True).values_list(
                "partner_id", flat=True
            )
        )

    @property
    def declined_version_id(self) -> int | None:
        """The wording a standing decline ended, while nothing else was put on the table since:
        the one who declined may still accept it as long as the other partner's yes stands."""
        if (
            self.declined_by_id is None
            or self.pending_version_id is not None
            or self.state == self.State.ARCHIVED
            or self.latest_version_id in (self.current_version_id, self.agreed_version_id)
        ):
            return None
        return self.latest_version_id

    def declined_accepted_by(self) -> set[int]:
        """Seat ids whose yes to the declined wording still stands (``latest_version``'s live
        acceptances; a card passes its round's instead)."""
        if self.declined_version_id is None:
            return set()
        live = getattr(self.latest_version, "live_acceptances", None)
        if live is not None:
            return {a.partner_id for a in live}
        return set(
            Acceptance.objects.filter(
                version_id=self.latest_version_id, withdrawn_at__isnull=True
            ).values_list("partner_id", flat=True)
        )

    def may_accept_declined(self, seat_id: int | None, accepted_by: set[int] | None = None) -> bool:
        """The one who declined, while the other partner's yes to that wording stands."""
        if seat_id is None or seat_id != self.declined_by_id or self.declined_version_id is None:
            return False
        if accepted_by is None:
            accepted_by = self.declined_accepted_by()
        return bool(accepted_by - {seat_id})

    def may_take_back_yes(self, seat_id: int | None, accepted_by: set[int] | None = None) -> bool:
        """The other partner, while their yes to the declined wording stands."""
        if seat_id is None or self.declined_version_id is None or seat_id == self.declined_by_id:
            return False
        if accepted_by is None:
            accepted_by = self.declined_accepted_by()
        return seat_id in accepted_by

    def _proposed_by(self, seat_id: int | None) -> bool:
        return seat_id is not None and self.proposed_by_id == seat_id

    def may_accept(self, seat_id: int | None, accepted_by: set[int] | None = None) -> bool:
        if seat_id is None or self.pending_version_id is None:
            return False
        if accepted_by is None:
            accepted_by = self.pending_accepted_by()
        return seat_id not in accepted_by

    def may_not_yet(self, seat_id: int | None) -> bool:
        """Not yet (and Decline) answer someone else's proposal, never one's own."""
        return (
            seat_id is not None
            and self.pending_version_id is not None
            and not self._proposed_by(seat_id)
        )

    def may_decline(self, seat_id: int | None) -> bool:
        return self.may_not_yet(seat_id)

    def may_take_back(self, seat_id: int | None) -> bool:
        return self.pending_version_id is not None and self._proposed_by(seat_id)

    def may_withdraw(self, seat_id: int | None, accepted_by: set[int] | None = None) -> bool:
        """A rule in force; or a resting one while this seat still consents to a change waiting
        beside it (the other partner withdrew first: this ends that consent too)."""
        if seat_id is None:
            return False
        if self.state == self.State.ACTIVE:
            return True
        if self.state != self.State.PAUSED or self.pending_version_id is None:
            return False
        if accepted_by is None:
            accepted_by = self.pending_accepted_by()
        return seat_id in accepted_by

    def may_reopen(self, seat_id: int | None) -> bool:
        """The partner who withdrew, of a resting rule; the partner who declined, of a declined
        one (either, when both declined)."""
        if seat_id is None:
            return False
        if self.state == self.State.PAUSED:
            # A lapsed rule (nobody answered its review): nobody holds the key, either reopens it.
            return self.withdrawn_by_id in (seat_id, None)
        return (
            self.state == self.State.DECLINED
            and self.declined_at is not None
            and self.declined_by_id in (None, seat_id)
        )

    def may_change(self, seat_id: int | None) -> bool:
        return (
            seat_id is not None
            and self.state != self.State.ARCHIVED
            and self.cooling_until(seat_id) is None
        )

    def cooling_until(self, seat_id: int | None) -> "datetime | None":
        """Until when this seat may not propose this rule again, after the other partner
        declined it (None: they may now)."""
        if self.declined_at is None or self.declined_by_id is None or seat_id is None:
            return None
        if seat_id == self.declined_by_id:
            return None
        until = self.declined_at + COOLING_OFF
        return until if timezone.now() < until else None

    def may_keep(self, seat_id: int | None, kept_by: set[int] | None = None) -> bool:
        """Keep it: a rule due for review, while this seat has not kept it in this review
        (`kept_by`: the review round's seats, agreements/rounds.py)."""
        return (
            seat_id is not None
            and self.review_due
            and seat_id not in (kept_by if kept_by is not None else set())
        )

    def may_let_rest(self, seat_id: int | None) -> bool:
        """Let it rest: a rule due for review, either partner, at once (a withdrawal)."""
        return seat_id is not None and self.review_due

    def may_archive(self, seat_id: int | None) -> bool:
        return seat_id is not None and self.state not in (self.State.ACTIVE, self.State.ARCHIVED)

    def may_restore(self, seat_id: int | None) -> bool:
        return (
            seat_id is not None
            and self.state == self.State.ARCHIVED
            and self.cooling_until(seat_id) is None
        )

    def waits_for(self, seat_id: int | None, round=None) -> bool:
        """Whether this seat's answer is what the rule waits for: a wording waiting that the seat
        neither proposed, accepted, nor answered "not yet" or "decline" to in its current round
        (agreements/rounds.py, the one reading of who answered; read for this rule when not
        given). A resting rule with nothing pending waits for no one."""
        if seat_id is None or self.pending_version_id is None or self._proposed_by(seat_id):
            return False
        if round is None:
            from agreements.rounds import round_of

            round = round_of(self)
        return not round.answered_by(seat_id)


def with_own_wordings(rules: Iterable[Rule]) -> list[Rule]:
    """The rules, each with the one wording it shows (`Rule.wording`) read by id: one simple
    query for any number of rules, cheaper to build than joining the four wordings a rule points
    at (measured in docs/benchmarks.md)."""
    rules = list(rules)
    versions = RuleVersion.objects.in_bulk({rule.wording_id for rule in rules} - {None})
    for rule in rules:
        version = versions.get(rule.wording_id)
        if version is not None:
            setattr(rule, rule.wording_field, version)  # the wording read above, not a write
    return rules


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
    # A wording its author proposed that never came into force with both, taken away with the
    # author's words (agreements.partnership.remove_words_of): title and text are gone, readers
    # show "removed by its author". A wording both had in force is never removed.
    removed = models.BooleanField(default=False, db_default=False)
    # When the rule comes up for review once this wording is in force ("" none): part of what
    # both accept, so another interval is another version.
    review_after = models.CharField(
        max_length=3, choices=REVIEW_CHOICES, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["rule", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"Rule {self.rule_id} v{self.number}"

    @property
    def review_phrase(self) -> str:
        """The review interval inside a sentence ("in a month"), or "" for none."""
        return REVIEW_PHRASES.get(self.review_after, "")


class Acceptance(models.Model):
    """One partner's consent to one exact version. It ends (withdrawn_at) but is never removed."""

    version = models.ForeignKey(RuleVersion, on_delete=models.CASCADE, related_name="acceptances")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="acceptances")
    created_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Given as a sealed answer (as its event is: Event.private_to): seen only by its partner
    # until both have answered; one changed before then stays sealed for good.
    sealed = models.BooleanField(default=False, db_default=False)

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


class EventQuerySet(models.QuerySet):
    def visible_to(self, seat_id: int | None) -> "EventQuerySet":
        """What one person may read of the ledger: every event but a sealed answer of someone
        else (`private_to`). `seat_id` None: anyone with no seat (a therapist reads through
        `seen_by_therapist`, which starts here)."""
        if seat_id is None:
            return self.filter(private_to__isnull=True)
        return self.filter(Q(private_to__isnull=True) | Q(private_to_id=seat_id))

    def seen_by_therapist(self, therapist_id, granted_at, scope="history") -> "EventQuerySet":
        """The one reading of the ledger for a therapist (their pages, timeline, history, counts
        and last activity): no sealed answer; nothing of another therapist; nothing about a
        request, a declined request or a level asked for and not agreed, ever (those kinds
        never reach a therapist); and of their own access only what happened from the moment
        both partners agreed (`granted_at`). At "the rules" level (`scope`), nothing that would
        tell who proposed, answered or withdrew, or when: only the comments and what became of
        the therapist's own offers. The arguments may be outer references (the client list
        counts every couple in one query)."""
        queryset = (
            self.filter(private_to__isnull=True)
            .exclude(kind__in=NEVER_TO_THERAPIST)
            .exclude(Q(therapist__isnull=False) & ~Q(therapist_id=therapist_id))
            .exclude(
                Q(kind__in=ACCESS_KINDS)
                & (Q(therapist__isnull=True) | Q(created_at__lt=granted_at))
            )
        )
        if isinstance(scope, str):
            if scope == "history":
                return queryset
            return queryset.filter(kind__in=SEEN_AT_THE_RULES_LEVEL)
        return queryset.filter(
            Q(Exact(scope, Value("history"))) | Q(kind__in=SEEN_AT_THE_RULES_LEVEL)
        )

    def seen_through(self, access: "TherapistAccess") -> "EventQuerySet":
        return self.seen_by_therapist(access.therapist_id, access.granted_at, access.scope)


# What a therapist never reads of the ledger (EventQuerySet.seen_by_therapist): a request, its
# decline, a widening asked for and one kept back. And the kinds about a therapist's access, which
# they read only from the moment both partners agreed to theirs.
NEVER_TO_THERAPIST = ["access_requested", "access_declined", "scope_widen_asked", "scope_kept"]
# What a therapist at "the rules" level may count and date: the comments, their own offers and
# what became of them (their page lists it), and their own access.
SEEN_AT_THE_RULES_LEVEL = [
    "commented",
    "suggested_rule",
    "suggested_wording",
    "suggestion_adopted",
    "suggestion_set_aside",
    "checkin_invited",
    "exercise_started",
    "access_granted",
    "scope_widened",
    "scope_narrowed",
]
ACCESS_KINDS = [
    "access_requested",
    "access_granted",
    "access_declined",
    "access_ended",
    "scope_widen_asked",
    "scope_widened",
    "scope_narrowed",
    "scope_kept",
]


class WrittenByTherapist:
    """A row a therapist may have written (`therapist`, emptied when their account is deleted)."""

    @property
    def therapist_name(self) -> str:
        return self.therapist.display_name if self.therapist_id else str(FORMER_THERAPIST)


class Event(WrittenByTherapist, models.Model):
    """The append-only ledger of everything that happens to an agreement."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Agreement started with the default rules")
        PROPOSED_RULE = "proposed_rule", _("Proposed a new rule")
        PROPOSED_CHANGE = "proposed_change", _("Proposed a change")
        ACCEPTED = "accepted", _("Accepted")
        IN_FORCE = "in_force", _("Came into force")
        NOT_YET = "not_yet", pgettext_lazy("answer", "Not yet")
        DECLINED = "declined", _("Declined")
        TOOK_BACK = "took_back", _("Took back a proposal")
        WITHDREW = "withdrew", _("Withdrew consent")
        ARCHIVED = "archived", _("Archived the rule")
        RESTORED = "restored", _("Restored the rule as a proposal")
        REOPENED = "reopened", _("Reopened the rule")
        COMMENTED = "commented", _("Commented")
        ACCESS_REQUESTED = "access_requested", _("Asked to give a therapist access")
        ACCESS_GRANTED = "access_granted", _("Agreed to give a therapist access")
        ACCESS_DECLINED = "access_declined", _("Declined therapist access")
        ACCESS_ENDED = "access_ended", _("Ended therapist access")
        PARTNERSHIP_ENDED = "partnership_ended", _("Ended the partnership")
        SCOPE_WIDEN_ASKED = "scope_widen_asked", _("Asked to share the history with the therapist")
        SCOPE_WIDENED = "scope_widened", _("Agreed to share the history with the therapist")
        SCOPE_NARROWED = "scope_narrowed", _("Limited the therapist's access to the rules")
        # A partner kept the access to the rules when the other asked to share the history
        # (or the asker took the ask back): a declined request, which no therapist ever reads.
        SCOPE_KEPT = "scope_kept", _("Kept the therapist's access to the rules")
        SUGGESTED_RULE = "suggested_rule", _("Suggested a rule")
        SUGGESTED_WORDING = "suggested_wording", _("Suggested new wording")
        SUGGESTION_ADOPTED = (
            "suggestion_adopted",
            _("Adopted the therapist's suggestion as a proposal"),
        )
        SUGGESTION_SET_ASIDE = "suggestion_set_aside", _("Set the therapist's suggestion aside")
        CHECKIN_INVITED = "checkin_invited", _("Invited the couple to a check-in")
        EXERCISE_STARTED = "exercise_started", _("Started the check-in the therapist suggested")
        CHECKIN_REVEALED = "checkin_revealed", _("Check-in revealed")
        # Agreement-wide: one event with the note, then a withdrawal (or reopening) per rule.
        PAUSED_EVERYTHING = "paused_everything", _("Paused everything")
        # Reviews (issue 24): a partner's Keep it (sealed until both have kept it), the outcome
        # when both have, Let it rest (a withdrawal at review), a change proposed at review, and
        # a rule that rested by itself because nobody answered within REVIEW_GRACE.
        KEEP_ANSWER = "keep_answer", _("Said keep it")
        KEPT = "kept", _("Kept the rule at its review")
        LET_REST = "let_rest", _("Let the rule rest at its review")
        CHANGED_AT_REVIEW = "changed_at_review", _("Proposed a change at the review")
        LAPSED = "lapsed", _("Rested after its review went unanswered")
        REOPENED_ALL = "reopened_all", _("Reopened all the paused rules")
        WORDS_REMOVED = "words_removed", _("Removed their own words from this archive")

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
    # The note's author took their words away (Partner.words_removed_at): the note is gone and
    # every reader shows "removed by its author", not an empty note.
    note_removed = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The therapist's suggestion a partner set aside: the timeline names it.
    suggestion = models.ForeignKey(
        "Suggestion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A sealed answer: seen only by the partner who gave it until both partners have answered
    # the wording (agreements/rounds.py); then the answers that stand are unsealed together.
    # An answer changed before that stays sealed for good: nobody else ever learns of it.
    private_to = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["agreement", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.agreement_id}"

    @property
    def actor_name(self) -> str:
        if self.partner_id:
            return self.partner.name
        if self.kind in (self.Kind.CREATED, self.Kind.LAPSED):
            return "Rules of the Road"
        if self.kind == self.Kind.KEPT:
            return str(_("Both partners"))
        return self.therapist_name


class Comment(WrittenByTherapist, models.Model):
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
    # Its author took their words away: the text is gone, readers show "removed by its author".
    removed = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment {self.pk}"

    @property
    def author_name(self) -> str:
        if self.partner_id:
            return self.partner.name
        return self.therapist_name

    @property
    def by_therapist(self) -> bool:
        return self.partner_id is None


class TherapistAccess(models.Model):
    """A therapist's read-only access, asked for by one partner and agreed by the other."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for the other partner")
        ACTIVE = "active", _("Has access")
        DECLINED = "declined", _("Declined")
        ENDED = "ended", _("Ended")

    class Scope(models.TextChoices):
        RULES = "rules", _("the rules")
        HISTORY = "history", _("the rules and our history")

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
    # The words both partners saw when they agreed, kept as they read them: `statement` in the
    # language of the partner who took the step, `statements` the same words at that moment in
    # every language the site speaks ({"es": "…"}), so that each reader (either partner, in
    # their own language) reads what was agreed in theirs. Rows from before `statements`: {}.
    statement = models.TextField(blank=True)
    statements = models.JSONField(default=dict, blank=True)
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
    # The visit before last_viewed_at: what is new is counted from here while a visit lasts.
    previous_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "pk"]
        indexes = [models.Index(fields=["therapist", "status"])]

    def __str__(self) -> str:
        return f"Therapist access {self.pk}"

    @property
    def statement_shown(self) -> str:
        """The statement in the reader's language (the active one) as it stood when it was
        agreed; for an access from before the languages, the one text that was kept."""
        language = translation.get_language() or ""
        words = self.statements or {}
        return words.get(language) or words.get(language.split("-")[0]) or self.statement

    @property
    def therapist_name(self) -> str:
        if self.therapist_id is None:
            return str(FORMER_THERAPIST)
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
    # The therapist's own name for this link and the couple it is for ("the Tuesday couple"):
    # theirs alone, never shown to the couple (therapy.label_client_link).
    label = EncryptedTextField(blank=True, validators=[MaxLengthValidator(MAX_LABEL)])

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


class Suggestion(WrittenByTherapist, models.Model):
    """A rule or a wording a therapist offers. It is nobody's proposal and nobody's acceptance
    until a partner adopts it; then it goes through the ordinary consent workflow."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for you both")
        ADOPTED = "adopted", _("Adopted as a proposal")
        SET_ASIDE = "set_aside", _("Set aside")

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


class CheckInInvitation(WrittenByTherapist, models.Model):
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


class Draft(models.Model):
    """A change to one of the nine default rules, or a new rule, written by a person before a
    partner joined them. It is nobody's proposal yet: it is in force nowhere and shown to nobody
    else. When a couple forms (`agreements.drafts.promote`, from `partnership.start_agreement`)
    each draft becomes its author's proposal, which the other partner answers like any other,
    and the draft is gone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rule_drafts"
    )
    # 1 to 9: a new wording for that default rule; empty: a new rule.
    default_position = models.PositiveSmallIntegerField(null=True, blank=True)
    title = EncryptedTextField(
        blank=True, validators=[validate_one_line, MaxLengthValidator(MAX_TITLE)]
    )
    text = EncryptedTextField()
    note = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "default_position"],
                condition=Q(default_position__isnull=False),
                name="one_draft_per_default_rule_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"Draft {self.pk}"
