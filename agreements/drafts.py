"""Drafts: what a person writes about the rules before a partner has joined them.

Before a couple forms there is no agreement, so there is nothing to propose to and nobody to
answer: a draft is kept with its author only, in force nowhere and shown to nobody else. When
the couple forms, `promote` (called by `partnership.start_agreement`, in the transaction that
forms the couple) makes each partner's drafts their own proposals on the new agreement, through
`consent` like any proposal: accepted by their author only, so the other partner answers them as
usual and nothing is in force that a current partner did not accept. The drafts are then gone.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Couple, User
from agreements import consent
from agreements.defaults import DEFAULT_RULES, in_active_language
from agreements.models import Agreement, Draft, Rule
from intimacy.errors import ServiceError

# Enough for every default and a page of new rules; a bound on what one account can store.
MAX_DRAFTS = 30


class DraftError(ServiceError):
    """A draft refused: nothing was changed."""


def _check_alone(user: User) -> None:
    if user.is_therapist:
        raise DraftError(_("A therapist account has no agreement of its own."))
    if user.current_partner_seat() is not None:
        raise DraftError(
            _("You are linked with your partner now: propose it on your shared agreement.")
        )


def save_draft(
    *,
    user: User,
    text: str,
    title: str = "",
    note: str = "",
    default_position: int | None = None,
    draft_id: int | None = None,
) -> Draft:
    """A new draft, or a new wording for one of this person's drafts (`draft_id`). A draft for a
    default rule is that rule's one draft of this person: writing it again replaces it."""
    title, text, note = title.strip(), text.strip(), note.strip()
    with transaction.atomic():
        # The person's row, locked: their drafts are counted and replaced one request at a time.
        User.objects.select_for_update().filter(pk=user.pk).first()
        _check_alone(user)
        draft = None
        if draft_id is not None:
            draft = Draft.objects.filter(user=user, pk=draft_id).first()
            if draft is None:
                raise DraftError(_("That draft is no longer there."))
            default_position = draft.default_position
        elif default_position is not None:
            if not 1 <= default_position <= len(DEFAULT_RULES):
                raise DraftError(_("There is no default rule with that number."))
            draft = Draft.objects.filter(user=user, default_position=default_position).first()
        if default_position is not None:
            # The rule as this person reads it (their language): a draft must change something.
            default_title, default_text = in_active_language()[default_position - 1]
            if consent.normalise(text) == consent.normalise(default_text) and consent.normalise(
                title
            ) in ("", consent.normalise(default_title)):
                raise DraftError(
                    _("That is the rule's own wording: there is no change to keep as a draft.")
                )
            title = title or default_title
        if draft is None:
            if Draft.objects.filter(user=user).count() >= MAX_DRAFTS:
                raise DraftError(
                    _("You have %(count)d drafts already: remove one before writing another.")
                    % {"count": MAX_DRAFTS}
                )
            draft = Draft(user=user, default_position=default_position)
        draft.title, draft.text, draft.note = title, text, note
        draft.save()
    return draft


def remove_draft(*, user: User, draft_id: int) -> None:
    with transaction.atomic():
        Draft.objects.filter(user=user, pk=draft_id).delete()


def promote(*, couple: Couple, agreement: Agreement) -> list[Rule]:
    """Every draft of the couple's partners becomes its author's proposal, the inviter's first
    (the seats in the order they joined), each person's in the order they wrote them. A draft
    for a default rule that the other partner also changed is proposed after theirs, as a
    counter-proposal (both wordings stay in the rule's history). A draft that no longer fits
    (the same wording as what is waiting) is dropped. Runs in the caller's transaction."""
    proposed = []
    for seat in couple.partners.select_related("user").filter(left_at__isnull=True):
        for draft in Draft.objects.filter(user=seat.user_id):
            position = draft.default_position
            try:
                rule = consent.propose_wording(
                    partner=seat,
                    agreement=agreement,
                    rule=None if position is None else agreement.rules.get(position=position),
                    title=draft.title,
                    text=draft.text,
                    note=draft.note,
                )
            except consent.NothingChanged:
                continue
            proposed.append(rule)
        Draft.objects.filter(user=seat.user_id).delete()
    return proposed
