"""Every change to a check-in: one function each, keyword-only, one transaction, rows locked in
the order couple → agreement → check-in → answers (the same order everywhere, so that two
partners acting at once wait for each other instead of deadlocking).

The promise all of this protects: until both partners have sealed, an answer is read by its
writer alone; the reveal happens exactly once, on the second seal.

A check-in left untouched for STALE_AFTER is closed by the clock (checkins/models.py): every
reader shows it closed without writing. Its row is closed for good by the next service that acts
on it, in that service's transaction (the action itself is refused), or by `close_stale` (the
`close_stale_checkins` command).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Couple, Partner, User
from agreements import consent, notify, therapy
from agreements.models import Agreement, Event, Rule
from checkins.models import MAX_ANSWER, MAX_REPLY, MAX_TOPIC, Answer, CheckIn
from intimacy.errors import ServiceError, fitting_text

WENT_STALE = _(
    "This check-in was left untouched for two weeks, so it closed without being revealed."
)
NO_THERAPIST = _(
    "No therapist has access to your agreement now, so there is no one to share this with. "
    "Nothing was shared."
)
EXERCISE_WAITS = _(
    "A check-in is open now, so this one waits: you can start it once the open one is revealed "
    "or let go. Nothing was changed."
)


class CheckInError(ServiceError):
    """An action that does not fit the check-in's state: nothing was changed (HTTP 409)."""

    status = 409


@dataclass
class Locked:
    couple: Couple
    agreement: Agreement
    checkin: CheckIn | None
    answers: dict[int, Answer]  # by partner id


def _lock(partner: Partner, checkin_id: int | None = None) -> Locked:
    couple = Couple.objects.select_for_update().get(pk=partner.couple_id)
    agreement = Agreement.objects.select_for_update().get(couple_id=couple.pk)
    checkin = None
    answers: dict[int, Answer] = {}
    if checkin_id is not None:
        checkin = CheckIn.objects.select_for_update().get(pk=checkin_id, couple_id=couple.pk)
        answers = {
            a.partner_id: a
            for a in Answer.objects.select_for_update().filter(checkin=checkin).order_by("pk")
        }
    return Locked(couple, agreement, checkin, answers)


def _check_may_write(partner: Partner, locked: Locked) -> None:
    partner = Partner.objects.get(pk=partner.pk)
    if partner.couple_id != locked.couple.pk:
        raise PermissionError(_("Only a partner of this couple may change its check-ins."))
    if locked.couple.ended_at is not None or partner.left_at is not None:
        raise CheckInError(_("This partnership has ended: its check-ins can be read, not changed."))


def _close_if_stale(checkin: CheckIn) -> bool:
    """Closes for good, in the row, a check-in the clock has closed already."""
    if checkin.is_stale:
        checkin.closed_at = timezone.now()
        checkin.save(update_fields=["closed_at"])
        return True
    return False


def _check_open(checkin: CheckIn) -> None:
    if checkin.is_revealed:
        raise CheckInError(_("This check-in is already revealed: both answers can be read now."))
    if checkin.is_closed:
        raise CheckInError(_("This check-in was let go: nothing in it will be revealed."))


def _on_open[T](partner: Partner, checkin_id: int, act: Callable[[Locked], T]) -> T:
    """`act` on the locked check-in while it is open, in one transaction. A check-in the clock
    has closed is closed in its row in that transaction, which commits; then the action is
    refused."""
    with transaction.atomic():
        locked = _lock(partner, checkin_id)
        _check_may_write(partner, locked)
        if not _close_if_stale(locked.checkin):
            _check_open(locked.checkin)
            return act(locked)
    raise CheckInError(WENT_STALE)


# -- starting ------------------------------------------------------------------------------------


def start(
    *, partner: Partner, topic: str = "", rule_ids: list[int] | None = None
) -> tuple[CheckIn, bool]:
    """The couple's open check-in: a new one, or (second value False) the one already open."""
    with transaction.atomic():
        locked = _lock(partner)
        _check_may_write(partner, locked)
        for open_one in (
            CheckIn.objects.select_for_update().open_in_row().filter(couple=locked.couple)
        ):
            if not _close_if_stale(open_one):
                return open_one, False
        now = timezone.now()
        checkin = CheckIn.objects.create(
            couple=locked.couple,
            topic=" ".join(topic.split())[:MAX_TOPIC],
            started_by=partner,
            created_at=now,
            touched_at=now,
        )
        if rule_ids:
            checkin.rules.set(
                Rule.objects.filter(agreement=locked.agreement, pk__in=rule_ids).exclude(
                    state=Rule.State.ARCHIVED
                )
            )
        notify.partner_of(partner)
    return checkin, True


# -- answering -----------------------------------------------------------------------------------


def seal(
    *,
    partner: Partner,
    checkin: CheckIn,
    sensation: str = "",
    emotion: str = "",
    want: str = "",
    overall: int | None = None,
    wanted_to_stop: str | None = None,
) -> CheckIn:
    """Writes and seals this partner's answer (again, if reopened). The second seal reveals."""
    texts = {
        "sensation": sensation.strip(),
        "emotion": emotion.strip(),
        "want": want.strip(),
    }
    if any(len(t) > MAX_ANSWER for t in texts.values()):
        raise CheckInError(
            _("Keep each answer under %(limit)d characters.") % {"limit": MAX_ANSWER}
        )
    if overall is not None and overall not in Answer.Overall.values:
        raise CheckInError(_("Choose one of the five steps, or none."))
    if wanted_to_stop is not None and wanted_to_stop not in Answer.WantedToStop.values:
        raise CheckInError(_("Choose yes, no or rather not say, or leave it."))
    if not any(texts.values()) and overall is None and wanted_to_stop is None:
        raise CheckInError(_("Write or choose at least one thing before sealing."))

    def write(locked: Locked) -> CheckIn:
        checkin = locked.checkin
        now = timezone.now()
        answer = locked.answers.get(partner.pk) or Answer(
            checkin=checkin, partner=partner, created_at=now
        )
        for name, value in texts.items():
            setattr(answer, name, value)
        answer.overall = overall
        answer.wanted_to_stop = wanted_to_stop or ""
        answer.updated_at = answer.sealed_at = now
        answer.save()
        locked.answers[partner.pk] = answer
        checkin.touched_at = now
        checkin.save(update_fields=["touched_at"])
        seats = set(
            Partner.objects.filter(couple_id=locked.couple.pk, left_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        sealed = {pid for pid, a in locked.answers.items() if a.is_sealed}
        if len(seats) == 2 and seats <= sealed:
            checkin.revealed_at = now
            checkin.save(update_fields=["revealed_at"])
            consent.record_event(locked.agreement, Event.Kind.CHECKIN_REVEALED, partner=partner)
        notify.partner_of(partner)
        return checkin

    return _on_open(partner, checkin.pk, write)


def reopen(*, partner: Partner, checkin: CheckIn) -> Answer:
    """Unseals this partner's own answer to change it: the reveal waits for them again."""

    def unseal(locked: Locked) -> Answer:
        answer = locked.answers.get(partner.pk)
        if answer is None:
            raise CheckInError(_("You have not written an answer yet."))
        if answer.is_sealed:
            answer.sealed_at = None
            answer.save(update_fields=["sealed_at"])
            locked.checkin.touched_at = timezone.now()
            locked.checkin.save(update_fields=["touched_at"])
        return answer

    return _on_open(partner, checkin.pk, unseal)


def let_go(*, partner: Partner, checkin: CheckIn) -> CheckIn:
    """Either partner, alone, before the reveal: nothing in it is ever revealed."""
    with transaction.atomic():
        locked = _lock(partner, checkin.pk)
        _check_may_write(partner, locked)
        checkin = locked.checkin
        if checkin.is_closed:
            return checkin  # a double submit
        if not _close_if_stale(checkin):
            _check_open(checkin)
            checkin.closed_at = timezone.now()
            checkin.let_go_by = partner
            checkin.save(update_fields=["closed_at", "let_go_by"])
            return checkin
    raise CheckInError(WENT_STALE)


def delete_own_answer(*, partner: Partner, checkin: CheckIn) -> None:
    """On a check-in that was let go (or went stale), a partner may delete what they wrote."""
    with transaction.atomic():
        locked = _lock(partner, checkin.pk)
        checkin = locked.checkin
        _close_if_stale(checkin)
        if not checkin.is_closed:
            raise CheckInError(
                _("Only the answer to a check-in that was let go can be deleted.")
                if checkin.is_open
                else _("A revealed answer belongs to both of you now: it stays.")
            )
        answer = locked.answers.get(partner.pk)
        if answer is not None:
            answer.delete()


def _own_revealed_answer(
    partner: Partner, checkin: CheckIn, *, unrevealed: str, unanswered: str
) -> tuple[Locked, Answer]:
    """The check-in locked for this partner, and their own answer to it: refused with
    `unrevealed` before the reveal, and with `unanswered` to a partner who did not answer."""
    locked = _lock(partner, checkin.pk)
    _check_may_write(partner, locked)
    if not locked.checkin.is_revealed:
        raise CheckInError(unrevealed)
    answer = locked.answers.get(partner.pk)
    if answer is None:
        raise CheckInError(unanswered)
    return locked, answer


NO_REPLY = _("Write something first: the reply is empty.")
LONG_REPLY = _("Keep the reply under %(limit)d characters.")


def add_reply(*, partner: Partner, checkin: CheckIn, text: str) -> Answer:
    """One short reply to the other partner's answer, after the reveal."""
    text = fitting_text(text, MAX_REPLY, CheckInError, empty=NO_REPLY, too_long=LONG_REPLY)
    with transaction.atomic():
        _locked, answer = _own_revealed_answer(
            partner,
            checkin,
            unrevealed=_("Replies come after the reveal."),
            unanswered=_("Only a partner who answered can reply."),
        )
        if answer.replied_at is not None:
            raise CheckInError(_("You have already replied to this check-in."))
        answer.reply = text
        answer.replied_at = timezone.now()
        answer.save(update_fields=["reply", "replied_at"])
        notify.partner_of(partner)
    return answer


def set_sharing(*, partner: Partner, checkin: CheckIn, share: bool) -> Answer:
    """This partner's half of sharing a revealed check-in with the couple's therapist. Stopping
    needs nobody else and takes effect on the therapist's next request."""
    with transaction.atomic():
        locked, answer = _own_revealed_answer(
            partner,
            checkin,
            unrevealed=_("Only a revealed check-in can be shared."),
            unanswered=_("Only a partner who answered can share."),
        )
        # Read under the couple's lock, which ending or granting an access takes too.
        if share and not therapy.has_live_therapist(locked.couple.pk):
            raise CheckInError(str(NO_THERAPIST))
        if answer.shared_with_therapist != share:
            answer.shared_with_therapist = share
            answer.save(update_fields=["shared_with_therapist"])
    return answer


# -- housekeeping --------------------------------------------------------------------------------


def close_stale(*, now=None) -> int:
    """Closes in their rows the open check-ins untouched for STALE_AFTER (which every reader
    shows closed already); returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            CheckIn.objects.select_for_update()
            .stale(now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        CheckIn.objects.filter(pk__in=stale).update(closed_at=now)
    return len(stale)


def erase_for(*, user: User) -> None:
    """Account deletion: what only this person could read goes with them (answers never revealed:
    a check-in still open, let go or gone stale). Their revealed answers lose their words next,
    in the same transaction (`remove_words_of`): "removed by its author"."""
    CheckIn.objects.open_in_row().filter(couple__partners__user=user).update(
        closed_at=timezone.now()
    )
    Answer.objects.filter(partner__user=user, checkin__revealed_at__isnull=True).delete()
    Answer.objects.filter(partner__user=user).update(shared_with_therapist=False)


def remove_words_of(*, seat_id: int) -> None:
    """The check-ins' side of "your words leave with you" (intimacy.privacy.remove_words): this
    partner's answers lose their words, rating and reply and read "removed by its author", and
    the topics they gave their check-ins go. For an ended partnership only (nothing is open
    then); locks couple → agreement → check-ins → answers, the order of every check-in service."""
    with transaction.atomic():
        seat = Partner.objects.get(pk=seat_id)
        # No key update: conflicts with every check-in service's lock all the same, and never
        # needs upgrading when account deletion already holds the couple (ending it).
        couple = Couple.objects.select_for_update(no_key=True).get(pk=seat.couple_id)
        if couple.ended_at is None:
            raise CheckInError(_("This partnership has not ended."))
        Agreement.objects.select_for_update(no_key=True).filter(couple_id=couple.pk).first()
        checkin_ids = list(
            CheckIn.objects.select_for_update()
            .filter(couple=couple)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        answers = Answer.objects.filter(checkin_id__in=checkin_ids, partner_id=seat_id)
        list(answers.select_for_update().order_by("pk").values_list("pk", flat=True))
        answers.update(
            sensation="",
            emotion="",
            want="",
            overall=None,
            wanted_to_stop="",
            reply="",
            shared_with_therapist=False,
            removed=True,
        )
        CheckIn.objects.filter(pk__in=checkin_ids, started_by_id=seat_id).update(topic="")


def start_from_invitation(*, partner: Partner, invitation_id: int) -> tuple[CheckIn, bool]:
    """An exercise a therapist invited the couple to becomes the couple's check-in, with the
    therapist's prompt as its topic (and the rule it is about). While a check-in is open the
    invitation waits (CheckInError, nothing changed): it is started once that one ends."""
    with transaction.atomic():
        invitation = (
            therapy.pending_exercises(Agreement.objects.get(couple_id=partner.couple_id))
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            raise CheckInError(_("That check-in was started already."))
        checkin, created = start(
            partner=partner,
            topic=invitation.prompt,
            rule_ids=[invitation.rule_id] if invitation.rule_id else None,
        )
        if created:
            therapy.start_exercise(partner=partner, invitation_id=invitation.pk)
    if not created:
        # The open check-in is left as it is (answers sealed in it stay), and the invitation
        # stays ready to start: it blocks nothing, and nothing blocks it once that one ends.
        raise CheckInError(str(EXERCISE_WAITS))
    return checkin, created
