"""A therapist and a couple: a one-time client link, access that starts only when both partners
agree and that either partner (or the therapist) can narrow or end alone, at once; suggestions
that are nobody's proposal until a partner adopts one; exercises; private session notes.

Every change takes its locks in one order, client link → couple → agreement → access row (or
suggestion), so that two of them can never wait for each other.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Couple, Partner, User
from agreements import consent, notify
from agreements.consent import ConsentError, NothingChanged, normalise, record_event
from agreements.models import (
    MAX_LABEL,
    MAX_PROMPT,
    Agreement,
    CheckInInvitation,
    ClientLink,
    Comment,
    Event,
    Rule,
    SessionNote,
    Suggestion,
    TherapistAccess,
    link_token_digest,
)
from intimacy import emails
from intimacy.errors import fitting_text

Status = TherapistAccess.Status
Scope = TherapistAccess.Scope
Kind = Event.Kind

# What each level shares, shown on the link page, the consent page, the partners' access page
# and to the therapist, and kept with the access as the partners read it.
SCOPE_STATEMENTS = {
    Scope.RULES: gettext_lazy(
        "%(name)s would see the rules: each rule's wording as it stands now and its state (in "
        "force, waiting for acceptance, paused, declined or archived), and the comments on them, "
        "which %(name)s can add to and you can reply to. %(name)s would not see earlier wordings, "
        "the notes either of you wrote when proposing, answering or withdrawing, or the timeline "
        "of who did what and when."
    ),
    Scope.HISTORY: gettext_lazy(
        "%(name)s would see the rules and your history: each rule's wording and state and the "
        "comments on them, and also every earlier wording, every note either of you wrote when "
        "proposing, answering or withdrawing (such as “I need a pause on this one”), and the "
        "timeline of who did what and when, from the day your agreement started."
    ),
}
ALWAYS = gettext_lazy(
    "Check-ins are shared one at a time, only when you choose. %(name)s can suggest rules or new "
    "wording (nothing changes unless one of you adopts a suggestion as your own proposal), invite "
    "you to a check-in, and keep private session notes that you do not see. Either of you can "
    "narrow or end this access alone, at any time."
)


class LinkNotFound(Exception):
    """A link that is missing, forged, used, expired or cancelled: all of them look the same."""


def statement(scope: str, therapist: User | None) -> str:
    """What a level shares, in the active language. Plain text (it is kept, and exported): the
    therapist's name is isolated with Unicode's first-strong isolate (U+2068 … U+2069), the
    plain-text form of <bdi>, so that a Hebrew name reads right in an English sentence."""
    name = _("The therapist")
    if therapist is not None:
        name = therapist.display_name
        if therapist.practice_name:
            name = f"{name} ({therapist.practice_name})"
        name = f"\u2068{name}\u2069"
    return f"{SCOPE_STATEMENTS[Scope(scope)]} {ALWAYS}" % {"name": name}


def _keep_statement(access: TherapistAccess, therapist: User | None) -> None:
    """The words of the access's level as they read now: in the language of the partner taking
    the step (the one active), and in every language, for each reader to read in their own."""
    access.statement = statement(access.scope, therapist)
    statements = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            statements[code] = statement(access.scope, therapist)
    access.statements = statements


def _settle_scope(access: TherapistAccess, scope: str) -> None:
    """The access's level is now `scope`, nothing asked for any more, and its statement reads so."""
    access.scope = scope
    access.requested_scope = ""
    access.scope_requested_by = None
    _keep_statement(access, access.therapist)
    access.save(
        update_fields=["scope", "requested_scope", "scope_requested_by", "statement", "statements"]
    )


# -- locks ----------------------------------------------------------------------------------------


def _lock_agreement(agreement_id: int) -> Agreement:
    """Couple, then agreement, both under a row lock."""
    couple_id = Agreement.objects.values_list("couple_id", flat=True).get(pk=agreement_id)
    Couple.objects.select_for_update().get(pk=couple_id)
    return (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("couple")
        .get(pk=agreement_id)
    )


def _current_seat(partner: Partner, agreement: Agreement) -> Partner:
    """The partner as the database has it now (read after the couple's lock, so a partnership
    that just ended is seen), if they are a current partner of this agreement's couple."""
    seat = Partner.objects.select_related("user").filter(pk=partner.pk).first()
    if seat is None or seat.couple_id != agreement.couple_id or seat.left_at is not None:
        raise PermissionError("Only a current partner of this couple may do this.")
    if agreement.couple.ended_at is not None:
        raise ConsentError(
            _("This agreement is archived: it can be read and printed, not changed.")
        )
    return seat


def _lock_partner_access(partner: Partner, access_id: int) -> tuple[TherapistAccess, Partner]:
    """Link → couple → agreement → access, for a partner acting on one of their accesses."""
    found = TherapistAccess.objects.filter(pk=access_id).values("agreement_id", "client_link_id")
    found = found.first()
    if found is None:
        raise PermissionError
    if found["client_link_id"]:
        ClientLink.objects.select_for_update().filter(pk=found["client_link_id"]).first()
    rows = TherapistAccess.objects.select_related("therapist", "client_link")
    return _lock_for_partner(partner, found["agreement_id"], rows, access_id)


def _lock_for_partner[T: Model](
    partner: Partner, agreement_id: int, rows: QuerySet[T], pk: int
) -> tuple[T, Partner]:
    """Couple → agreement → the row `pk` of `rows` (its agreement the locked one), for a current
    partner of the couple, and their seat."""
    agreement = _lock_agreement(agreement_id)
    seat = _current_seat(partner, agreement)
    row = rows.select_for_update(of=("self",)).get(pk=pk)
    row.agreement = agreement
    return row, seat


def _lock_live_access(therapist: User, agreement_id: int) -> TherapistAccess:
    """Couple → agreement → the therapist's live access, or PermissionError (the view's 404)."""
    if not therapist.is_therapist:
        raise PermissionError
    agreement = _lock_agreement(agreement_id)
    if agreement.couple.ended_at is not None:
        raise PermissionError(_("This agreement is archived."))
    access = (
        TherapistAccess.objects.select_for_update(of=("self",))
        .filter(agreement=agreement, therapist=therapist, status=Status.ACTIVE)
        .first()
    )
    if access is None:
        raise PermissionError(_("This therapist has no access to this agreement."))
    access.agreement = agreement
    return access


# -- client links ---------------------------------------------------------------------------------


def create_client_link(*, therapist: User) -> tuple[ClientLink, str]:
    """A new one-time link and its token, which only this answer ever holds. Nothing happens to
    any couple yet, so there is no couple's event to write: the link's own dates are the record."""
    if not therapist.is_therapist or not therapist.is_active:
        raise PermissionError(_("Only a therapist account can invite a client couple."))
    with transaction.atomic():
        link, token = ClientLink.new(therapist)
        link.save()
    return link, token


def open_links(therapist: User) -> QuerySet[ClientLink]:
    """The therapist's links that are still open to their eyes: not cancelled, not expired, and
    with no access started from them. A partner having asked (or a request declined) does not
    show: until both partners agree the therapist learns nothing."""
    return (
        ClientLink.objects.filter(cancelled_at__isnull=True)
        .exclude(accesses__granted_at__isnull=False)
        .filter(therapist=therapist, expires_at__gt=timezone.now())
        .order_by("-created_at", "pk")
    )


def cancel_client_link(*, therapist: User, link_id: int) -> None:
    """The therapist takes a link back. A request a partner already made with it ends too, so that
    the other partner's agreement can no longer start an access the therapist called off."""
    with transaction.atomic():
        link = (
            ClientLink.objects.select_for_update().filter(pk=link_id, therapist=therapist).first()
        )
        if link is None or not open_links(therapist).filter(pk=link.pk).exists():
            raise LinkNotFound
        now = timezone.now()
        link.cancelled_at = now
        link.save(update_fields=["cancelled_at"])
        waiting = link.accesses.filter(status=Status.REQUESTED).values_list("pk", "agreement_id")
        for access_id, agreement_id in list(waiting):
            agreement = _lock_agreement(agreement_id)
            access = TherapistAccess.objects.select_for_update(of=("self",)).get(pk=access_id)
            if access.status == Status.REQUESTED:
                access.status = Status.ENDED
                access.ended_at = now
                access.save(update_fields=["status", "ended_at"])
                record_event(agreement, Kind.ACCESS_ENDED, therapist=therapist)


def label_client_link(*, therapist: User, link_id: int, label: str) -> ClientLink:
    """The therapist's private name for one of their links (and the couple it is for), on one
    line, at most MAX_LABEL characters; empty clears it. Never shown to the couple, so nothing
    is written to any couple's ledger."""
    label = " ".join((label or "").split())
    if len(label) > MAX_LABEL:
        raise ConsentError(_("A label can be at most %(count)d characters.") % {"count": MAX_LABEL})
    with transaction.atomic():
        link = (
            ClientLink.objects.select_for_update().filter(pk=link_id, therapist=therapist).first()
        )
        if link is None:
            raise LinkNotFound
        if link.label != label:
            link.label = label
            link.save(update_fields=["label"])
    return link


def find_usable_link(token: str) -> ClientLink | None:
    """The link for this token if it can still be used; None for a forged, used, expired or
    cancelled one alike, so that no answer tells them apart."""
    if not token or len(token) > 100:
        return None
    link = (
        ClientLink.objects.select_related("therapist")
        .filter(token_digest=link_token_digest(token))
        .first()
    )
    return link if link is not None and link.is_usable else None


# -- access: asked for, agreed, declined, widened, narrowed, ended --------------------------------


def ask_partner(*, partner: Partner, token: str, scope: str) -> TherapistAccess:
    """One partner asks the other to let this therapist in, at the level chosen. The link is used
    up; the therapist learns nothing until the other partner agrees."""
    scope = Scope(scope)
    with transaction.atomic():
        digest = link_token_digest(token or "")
        link = (
            ClientLink.objects.select_for_update(of=("self",))
            .select_related("therapist")
            .filter(token_digest=digest)
            .first()
            if token and len(token) <= 100
            else None
        )
        if link is None or not link.is_usable:
            raise LinkNotFound
        agreement = _lock_agreement(
            Agreement.objects.values_list("pk", flat=True).get(couple_id=partner.couple_id)
        )
        seat = _current_seat(partner, agreement)
        therapist = link.therapist
        if agreement.therapist_accesses.filter(
            therapist=therapist, status__in=[Status.REQUESTED, Status.ACTIVE]
        ).exists():
            raise ConsentError(
                _(
                    "%(name)s already has access, or a request for it is waiting: "
                    "see the therapist access page."
                )
                % {"name": f"\u2068{therapist.display_name}\u2069"}  # isolated: plain text
            )
        now = timezone.now()
        link.used_at = now
        link.used_by = seat
        link.agreement = agreement
        link.save(update_fields=["used_at", "used_by", "agreement"])
        access = TherapistAccess(
            agreement=agreement,
            therapist=therapist,
            email="",
            requested_by=seat,
            requested_at=now,
            scope=scope,
            client_link=link,
        )
        _keep_statement(access, therapist)
        access.save()
        record_event(agreement, Kind.ACCESS_REQUESTED, partner=seat, therapist=therapist)
        notify.partner_of(seat)
    return access


def agree(*, partner: Partner, access_id: int, scope: str = "") -> TherapistAccess:
    """The other partner agrees: only now does access start, and the therapist hear of it.
    `scope` "rules" answers a request for "the rules and our history" with the narrower level
    ("Agree, but only the rules"): access starts at the rules. Nobody can answer with more than
    was asked."""
    with transaction.atomic():
        access, seat = _lock_partner_access(partner, access_id)
        if access.status != Status.REQUESTED:
            raise ConsentError(_("This request has already been answered or ended."))
        if access.requested_by_id == seat.pk:
            raise ConsentError(
                _("Your partner has to agree to this request; you asked for it already.")
            )
        therapist = access.therapist
        if therapist is None or not therapist.is_active or not therapist.is_therapist:
            raise ConsentError(
                _(
                    "This request points at nobody: no therapist account can receive it. "
                    "You can decline it."
                )
            )
        if access.client_link is not None and access.client_link.cancelled_at is not None:
            raise ConsentError(_("The therapist cancelled this invitation."))
        if scope and Scope(scope) == Scope.RULES:
            access.scope = Scope.RULES
        now = timezone.now()
        access.status = Status.ACTIVE
        access.approved_by = seat
        access.granted_at = now
        _keep_statement(access, therapist)
        access.save(
            update_fields=[
                "status",
                "approved_by",
                "granted_at",
                "scope",
                "statement",
                "statements",
            ]
        )
        record_event(access.agreement, Kind.ACCESS_GRANTED, partner=seat, therapist=therapist)
        emails.send(
            "therapist_access",
            therapist.email,
            {"name": therapist.display_name},
            time_zone=therapist.time_zone,
            language=therapist.language,
        )
    return access


def decline(*, partner: Partner, access_id: int) -> TherapistAccess:
    """Either partner says no to a waiting request (the one who asked takes it back). The
    therapist's list keeps showing the link as open, as if nobody had opened it."""
    with transaction.atomic():
        access, seat = _lock_partner_access(partner, access_id)
        if access.status != Status.REQUESTED:
            return access  # answered or ended already: a double submit
        access.status = Status.DECLINED
        access.ended_at = timezone.now()
        access.save(update_fields=["status", "ended_at"])
        record_event(
            access.agreement, Kind.ACCESS_DECLINED, partner=seat, therapist=access.therapist
        )
    return access


def widen_scope(*, partner: Partner, access_id: int) -> TherapistAccess:
    """Sharing the history too needs both: the first call asks, the other partner's agrees."""
    with transaction.atomic():
        access, seat = _lock_partner_access(partner, access_id)
        if access.status != Status.ACTIVE:
            raise ConsentError(_("This therapist has no access to widen."))
        if access.scope == Scope.HISTORY:
            return access  # already shared: a double submit
        if access.requested_scope != Scope.HISTORY:
            access.requested_scope = Scope.HISTORY
            access.scope_requested_by = seat
            access.save(update_fields=["requested_scope", "scope_requested_by"])
            record_event(
                access.agreement, Kind.SCOPE_WIDEN_ASKED, partner=seat, therapist=access.therapist
            )
            notify.partner_of(seat)
            return access
        if access.scope_requested_by_id == seat.pk:
            return access  # asked already: it waits for the other partner
        _settle_scope(access, Scope.HISTORY)
        record_event(access.agreement, Kind.SCOPE_WIDENED, partner=seat, therapist=access.therapist)
    return access


def narrow_scope(*, partner: Partner, access_id: int) -> TherapistAccess:
    """Either partner, alone, at once: the rules only, and any widening that was waiting is
    dropped. The therapist's next request outside the rules is a 404."""
    with transaction.atomic():
        access, seat = _lock_partner_access(partner, access_id)
        if access.status not in (Status.REQUESTED, Status.ACTIVE):
            return access  # over already
        if access.scope == Scope.RULES and not access.requested_scope:
            return access  # a double submit
        # Keeping to the rules when the history was only asked for declines a request: the
        # therapist's access did not change, and they never read of it (SCOPE_KEPT).
        kind = Kind.SCOPE_NARROWED if access.scope == Scope.HISTORY else Kind.SCOPE_KEPT
        _settle_scope(access, Scope.RULES)
        record_event(access.agreement, kind, partner=seat, therapist=access.therapist)
    return access


def end_access(
    *, access_id: int, partner: Partner | None = None, therapist: User | None = None
) -> None:
    """Ends (or takes back a request for) a therapist's access, effective with the next request.
    Either partner alone, or the therapist; an access that points at nobody ends the same way."""
    if (partner is None) == (therapist is None):
        raise ValueError(_("Access is ended by a partner or by its therapist."))
    with transaction.atomic():
        if partner is not None:
            access, seat = _lock_partner_access(partner, access_id)
        else:
            found = TherapistAccess.objects.filter(pk=access_id, therapist=therapist)
            agreement_id = found.values_list("agreement_id", flat=True).first()
            if agreement_id is None:
                raise PermissionError
            agreement = _lock_agreement(agreement_id)
            access = TherapistAccess.objects.select_for_update(of=("self",)).get(pk=access_id)
            access.agreement = agreement
            seat = None
        if access.status not in (Status.REQUESTED, Status.ACTIVE):
            return  # already over: a double submit
        access.status = Status.ENDED
        access.ended_at = timezone.now()
        access.requested_scope = ""
        access.scope_requested_by = None
        access.save(update_fields=["status", "ended_at", "requested_scope", "scope_requested_by"])
        # The event names whose access it was, so that it stays out of any other therapist's view.
        record_event(access.agreement, Kind.ACCESS_ENDED, partner=seat, therapist=access.therapist)


def has_live_therapist(couple_id: int) -> bool:
    """Whether a therapist can read this couple's agreement now: what "Share with our
    therapist" asks before it is offered, and what checkins.services.set_sharing asks before it
    shares (the gate, access.therapist_access_or_404, lets in exactly these)."""
    return TherapistAccess.objects.filter(
        agreement__couple_id=couple_id,
        agreement__couple__ended_at__isnull=True,
        status=Status.ACTIVE,
        therapist__isnull=False,
    ).exists()


def _check_current(partner: Partner, agreement: Agreement) -> Agreement:
    agreement = Agreement.objects.select_for_update().select_related("couple").get(pk=agreement.pk)
    if partner.couple_id != agreement.couple_id or partner.left_at is not None:
        raise PermissionError("Only a current partner of this couple may do this.")
    if agreement.couple.ended_at is not None:
        raise ConsentError(
            _("This agreement is archived: it can be read and printed, not changed.")
        )
    return agreement


def add_comment(
    *,
    agreement: Agreement,
    text: str,
    rule: Rule | None = None,
    partner: Partner | None = None,
    therapist: User | None = None,
) -> Comment:
    if (partner is None) == (therapist is None):
        raise ValueError(_("A comment has exactly one author: a partner or a therapist."))
    with transaction.atomic():
        if partner is not None:
            agreement = _check_current(partner, agreement)
        else:
            # Locks the access row that end_access also locks, so that a comment can never land
            # after a partner ended the access.
            agreement = _lock_live_access(therapist, agreement.pk).agreement
        if rule is not None and rule.agreement_id != agreement.pk:
            raise PermissionError
        comment = Comment.objects.create(
            agreement=agreement, rule=rule, partner=partner, therapist=therapist, text=text.strip()
        )
        record_event(agreement, Kind.COMMENTED, rule=rule, partner=partner, therapist=therapist)
    return comment


# Opening the couple page again within this time is the same visit.
VISIT_LENGTH = timedelta(minutes=5)


def record_view(access: TherapistAccess, *, prefetch: bool = False) -> datetime | None:
    """The therapist opened the couple's agreement. A new visit starts (last_viewed_at, which the
    couple sees) at most once every VISIT_LENGTH, by one conditional UPDATE of the access row;
    reloads and prefetches change nothing. It does not move the agreement's revision: nothing
    on the partners' live region changed (their page shows the visit when next loaded).
    Returns the previous visit: "updates since your last visit" are counted from it for the
    whole visit, so a reload does not erase them."""
    now = timezone.now()
    last = access.last_viewed_at  # as the gate read it, in this request
    if not prefetch and (last is None or last <= now - VISIT_LENGTH):
        TherapistAccess.objects.filter(pk=access.pk).filter(
            Q(last_viewed_at__isnull=True) | Q(last_viewed_at__lte=now - VISIT_LENGTH)
        ).update(previous_viewed_at=F("last_viewed_at"), last_viewed_at=now)
    seen = TherapistAccess.objects.values("last_viewed_at", "previous_viewed_at").get(pk=access.pk)
    access.last_viewed_at = seen["last_viewed_at"]
    access.previous_viewed_at = seen["previous_viewed_at"]
    if prefetch:
        return access.last_viewed_at
    return access.previous_viewed_at


# -- suggestions ----------------------------------------------------------------------------------


def _clean(title: str, text: str) -> tuple[str, str]:
    title, text = title.strip(), text.strip()
    if not text:
        raise ConsentError(_("A suggestion needs the wording of the rule."))
    return title, text


def suggest_rule(
    *, therapist: User, agreement: Agreement, title: str, text: str, note: str = ""
) -> Suggestion:
    """A new rule, offered: it is nobody's proposal and no rule exists until a partner adopts it."""
    title, text = _clean(title, text)
    with transaction.atomic():
        access = _lock_live_access(therapist, agreement.pk)
        suggestion = Suggestion.objects.create(
            agreement=access.agreement,
            therapist=therapist,
            title=title,
            text=text,
            note=note.strip(),
        )
        record_event(access.agreement, Kind.SUGGESTED_RULE, therapist=therapist)
    return suggestion


def suggest_wording(
    *, therapist: User, rule: Rule, title: str, text: str, note: str = ""
) -> Suggestion:
    """New wording for a rule, offered: the rule itself does not change until a partner adopts it
    and both accept, as with any proposed change."""
    title, text = _clean(title, text)
    with transaction.atomic():
        access = _lock_live_access(therapist, rule.agreement_id)
        rule = Rule.objects.select_related(
            "current_version", "pending_version", "latest_version"
        ).get(pk=rule.pk, agreement=access.agreement)
        if rule.state == Rule.State.ARCHIVED:
            raise ConsentError(
                _("This rule is archived: the couple would have to restore it first.")
            )
        shown = rule.shown_version
        if normalise(shown.text) == normalise(text) and normalise(shown.title) == normalise(title):
            raise NothingChanged(_("That wording is the same as the rule's: nothing to suggest."))
        suggestion = Suggestion.objects.create(
            agreement=access.agreement,
            therapist=therapist,
            rule=rule,
            based_on=shown,
            title=title,
            text=text,
            note=note.strip(),
        )
        record_event(access.agreement, Kind.SUGGESTED_WORDING, rule=rule, therapist=therapist)
    return suggestion


def _lock_suggestion(partner: Partner, suggestion_id: int) -> tuple[Suggestion, Partner]:
    agreement_id = (
        Suggestion.objects.filter(pk=suggestion_id).values_list("agreement_id", flat=True).first()
    )
    if agreement_id is None:
        raise PermissionError
    rows = Suggestion.objects.select_related("therapist", "rule")
    return _lock_for_partner(partner, agreement_id, rows, suggestion_id)


def adopt_suggestion(*, partner: Partner, suggestion_id: int) -> Suggestion:
    """The suggestion becomes this partner's own proposal, with their acceptance recorded as for
    any proposal they write; the other partner then answers it as usual. The history shows it
    came from the therapist (the event, and the suggestion's link to the version)."""
    with transaction.atomic():
        suggestion, seat = _lock_suggestion(partner, suggestion_id)
        if not suggestion.is_open:
            raise ConsentError(_("This suggestion was already adopted or set aside."))
        rule = consent.propose_wording(
            partner=seat,
            agreement=suggestion.agreement,
            rule=suggestion.rule,
            title=suggestion.title,
            text=suggestion.text,
        )
        suggestion.status = Suggestion.Status.ADOPTED
        suggestion.adopted_by = seat
        suggestion.adopted_rule = rule
        suggestion.adopted_version = rule.latest_version
        suggestion.decided_at = timezone.now()
        suggestion.save(
            update_fields=["status", "adopted_by", "adopted_rule", "adopted_version", "decided_at"]
        )
        record_event(
            suggestion.agreement,
            Kind.SUGGESTION_ADOPTED,
            partner=seat,
            therapist=suggestion.therapist,
            rule=rule,
            version=rule.latest_version,
        )
    return suggestion


def set_aside_suggestion(*, partner: Partner, suggestion_id: int) -> Suggestion:
    """Either partner, alone, for both of them: the suggestion leaves their list."""
    with transaction.atomic():
        suggestion, seat = _lock_suggestion(partner, suggestion_id)
        if suggestion.status == Suggestion.Status.SET_ASIDE:
            return suggestion  # a double submit
        if not suggestion.is_open:
            raise ConsentError(_("This suggestion was already adopted as a proposal."))
        suggestion.status = Suggestion.Status.SET_ASIDE
        suggestion.set_aside_by = seat
        suggestion.decided_at = timezone.now()
        suggestion.save(update_fields=["status", "set_aside_by", "decided_at"])
        record_event(
            suggestion.agreement,
            Kind.SUGGESTION_SET_ASIDE,
            partner=seat,
            therapist=suggestion.therapist,
            rule=suggestion.rule,
            suggestion=suggestion,
        )
    return suggestion


# -- session notes and exercises ------------------------------------------------------------------


def save_session_note(*, therapist: User, agreement: Agreement, text: str) -> SessionNote:
    """The therapist's own notes on this couple, replaced as a whole. No event: the couple's
    ledger is theirs to read, and these notes are not."""
    with transaction.atomic():
        access = _lock_live_access(therapist, agreement.pk)
        note, _created = SessionNote.objects.select_for_update().get_or_create(
            therapist=therapist, agreement=access.agreement
        )
        note.text = text.strip()
        note.updated_at = timezone.now()
        note.save(update_fields=["text", "updated_at"])
    return note


def session_note(therapist: User, agreement: Agreement) -> SessionNote | None:
    """The author's note on this couple; nobody else's query can reach it."""
    return SessionNote.objects.filter(therapist=therapist, agreement=agreement).first()


NO_PROMPT = gettext_lazy("Write a short prompt for the check-in.")
LONG_PROMPT = gettext_lazy("Keep the prompt under %(limit)d characters.")


def invite_to_checkin(
    *, therapist: User, agreement: Agreement, prompt: str, rule: Rule | None = None
) -> CheckInInvitation:
    """An exercise between sessions: both partners see a check-in ready to start."""
    prompt = fitting_text(prompt, MAX_PROMPT, ConsentError, empty=NO_PROMPT, too_long=LONG_PROMPT)
    with transaction.atomic():
        access = _lock_live_access(therapist, agreement.pk)
        if rule is not None and rule.agreement_id != access.agreement.pk:
            raise PermissionError
        invitation = CheckInInvitation.objects.create(
            agreement=access.agreement, therapist=therapist, rule=rule, prompt=prompt
        )
        record_event(access.agreement, Kind.CHECKIN_INVITED, rule=rule, therapist=therapist)
    return invitation


def pending_exercises(agreement: Agreement) -> QuerySet[CheckInInvitation]:
    """Check-ins a therapist invited the couple to, not started yet: "ready to start"."""
    return (
        agreement.checkin_invitations.filter(started_at__isnull=True)
        .select_related("therapist", "rule__latest_version")
        .order_by("-created_at", "pk")
    )


def start_exercise(*, partner: Partner, invitation_id: int) -> CheckInInvitation:
    """Marks the invitation started (the check-ins app calls this when it opens the check-in)."""
    with transaction.atomic():
        agreement_id = (
            CheckInInvitation.objects.filter(pk=invitation_id)
            .values_list("agreement_id", flat=True)
            .first()
        )
        if agreement_id is None:
            raise PermissionError
        agreement = _lock_agreement(agreement_id)
        seat = _current_seat(partner, agreement)
        invitation = CheckInInvitation.objects.select_for_update().get(pk=invitation_id)
        if invitation.started_at is not None:
            return invitation  # the other partner started it already
        invitation.started_at = timezone.now()
        invitation.started_by = seat
        invitation.save(update_fields=["started_at", "started_by"])
        record_event(
            agreement,
            Kind.EXERCISE_STARTED,
            partner=seat,
            rule=invitation.rule,
            therapist=invitation.therapist,
        )
    return invitation
