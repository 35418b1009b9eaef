"""Who may see what, and what they may do there: every gate of the app is in this module.

A gate returns the object together with the `Viewer` who asked (the read-write flag, in the spirit
of healthchecks' `_get_check_for_user`), or raises Http404: an object of another couple is not
found, never forbidden, so outsiders learn nothing. Views ask here; nothing else checks ownership.
"""

from dataclasses import dataclass
from functools import wraps

from allauth.mfa.models import Authenticator
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Invitation, Partner, User
from agreements import therapy
from agreements.models import (
    Agreement,
    ClientLink,
    Draft,
    Rule,
    Suggestion,
    TherapistAccess,
)

# The largest id a database column holds. A larger number in a URL is refused here: SQLite cannot
# even compare with it (OverflowError, a 500) when it is matched against a foreign key.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Viewer:
    """Who is looking at an agreement. Only a current partner of a live agreement may act; a
    former partner reads the archive; a therapist reads and comments."""

    PARTNER = "partner"
    FORMER = "former"
    THERAPIST = "therapist"

    kind: str
    seat: Partner | None = None
    therapist_access: TherapistAccess | None = None

    @property
    def may_act(self) -> bool:
        return self.kind == self.PARTNER

    @property
    def seat_id(self) -> int | None:
        return self.seat.pk if self.seat is not None else None

    @property
    def is_partner(self) -> bool:
        return self.kind == self.PARTNER

    @property
    def is_former(self) -> bool:
        return self.kind == self.FORMER

    @property
    def is_therapist(self) -> bool:
        return self.kind == self.THERAPIST

    @property
    def sees_history(self) -> bool:
        """Earlier wordings, notes and the timeline: the partners always; a therapist only when
        the couple chose to share "the rules and our history"."""
        if self.kind == self.THERAPIST:
            return self.therapist_access is not None and self.therapist_access.shares_history
        return True

    @property
    def sees_who(self) -> bool:
        """Who proposed, answered, withdrew, declined or replied, and when: the one question
        every card, page and template asks before naming a partner or dating an answer. A
        therapist at "the rules" level reads each rule's wording, its state and the comments,
        and nothing of who did what or when (the statement the partners agreed to says so)."""
        return self.sees_history


class NotLinked(Http404):
    """The signed-in partner has no current couple (not linked yet, or the partnership ended).
    `partner_required` answers it with a page that gives the next step, never a 404."""


class PartnershipEnded(NotLinked):
    """An action on a rule of a couple the signed-in person was in, that has since ended (a page
    left open): answered like NotLinked, so that the page is replaced by one saying why."""


# -- who may enter at all -------------------------------------------------------------------------


def partner_required(view):
    """Signed in, and not a therapist: therapists never reach a partner view (404). A partner
    without a current couple gets the page that says so and what to do next (200): a plain GET
    at once, a form post by a redirect to it, and an htmx request (an action, the poll) by
    HX-Redirect, so that the whole page is replaced rather than a card left doing nothing."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_therapist:
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotLinked:
            return no_couple_response(request)

    return wrapped


def no_couple_response(request: HttpRequest) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=200)
        response["HX-Redirect"] = reverse("agreements:agreement")
        return response
    if request.method != "GET":
        return redirect("agreements:agreement")
    return render(request, "agreements/no_couple.html", no_couple_context(request.user))


def no_couple_context(user: User) -> dict:
    """Where a partner without a current couple stands: an invitation waiting, a partnership
    that ended (its archive), or nothing yet."""
    standing = Invitation.objects.standing_for(user)
    invitation = standing if standing is not None and standing.is_usable else None
    past = (
        Partner.objects.filter(user=user, couple__ended_at__isnull=False)
        .select_related("couple__agreement")
        .order_by("-couple__ended_at")
        .first()
    )
    return {
        "invitation": invitation,
        # Declined, or expired unanswered: said plainly, with the next step.
        "ended_invitation": standing if standing is not None and invitation is None else None,
        "archive": past.couple.agreement if past is not None else None,
        "ended_on": past.couple.ended_at if past is not None else None,
    }


# What counts as a second factor. Recovery codes alone do not: they only back up a real one.
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def has_second_factor(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def therapist_required(view):
    """Signed in as a therapist (anyone else: 404), with two-factor authentication turned on;
    without it the therapist gets a page asking for it, and no client data at all."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_therapist:
            raise Http404
        if not has_second_factor(request.user):
            return render(request, "agreements/therapist/two_factor_required.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def id_or_404(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise Http404
    return value


# -- partners -------------------------------------------------------------------------------------


def with_partners(path: str) -> Prefetch:
    """The seats of the couple at `path` (current and former), with their people, as the
    couple's `seats`: every page names the partners."""
    return Prefetch(path, queryset=Partner.objects.select_related("user"), to_attr="seats")


def current_seat(user: User) -> Partner | None:
    """The person's seat in their current couple, with the couple, its agreement and the
    couple's `seats` (current and former) with their people, as `with_partners` gives them: one
    query, for every seat of the couple in which this person sits now."""
    # Sorted here, not by the query: building Django's ORDER BY costs more (0.6 ms of 2.2, measured
    # in docs/benchmarks.md) than sorting the two or three seats a couple has.
    seats = sorted(
        Partner.objects.filter(couple__partners__user=user, couple__partners__left_at__isnull=True)
        .select_related("user", "couple__agreement")
        .order_by(),
        key=lambda p: (p.joined_at, p.pk),
    )
    seat = next((p for p in seats if p.user_id == user.pk and p.left_at is None), None)
    if seat is None:
        return None
    seat.user = user  # the person authentication read
    seat.couple.seats = [p for p in seats if p.couple_id == seat.couple_id]
    for partner in seat.couple.seats:
        partner.couple = seat.couple  # one couple for all its seats, not a write
    return seat


def seat_or_404(request: HttpRequest) -> Partner:
    """The signed-in partner's seat in their current couple (see current_seat)."""
    seat = current_seat(request.user)
    if seat is None:
        raise NotLinked(_("You are not linked with a partner."))
    return seat


def partner_or_404(request: HttpRequest) -> Viewer:
    """The signed-in person as a current partner."""
    return Viewer(Viewer.PARTNER, seat_or_404(request))


def partner_agreement_or_404(request: HttpRequest) -> tuple[Agreement, Viewer]:
    """The current agreement of the signed-in partner, with the couple and its partners."""
    seat = seat_or_404(request)
    return seat.couple.agreement, Viewer(Viewer.PARTNER, seat)


def partner_etag_or_404(request: HttpRequest) -> tuple[int, int, int]:
    """What the signed-in partner's page is read at, for the poll (one query): their current
    agreement, its revision and their own sealed revision (see Agreement.held_etag)."""
    row = (
        Partner.objects.filter(user=request.user, left_at__isnull=True)
        .values_list("couple__agreement__pk", "couple__agreement__revision", "sealed_revision")
        .order_by()[:1]  # one current seat a person (a constraint): no ORDER BY to build
    )
    if not row:
        raise NotLinked
    return row[0]


def rule_of_partner_or_404(request: HttpRequest, rule_id: int) -> tuple[Rule, Viewer]:
    """A rule of the signed-in partner's current couple. A rule of a couple they were in, since
    ended, is PartnershipEnded (a page left open); anyone else's rule is a 404."""
    id_or_404(rule_id)
    try:
        viewer = partner_or_404(request)
    except NotLinked:
        _raise_if_a_former_couples_rule(request.user, rule_id)
        raise Http404 from None
    rule = (
        Rule.objects.select_related("agreement__couple")
        .filter(pk=rule_id, agreement__couple_id=viewer.seat.couple_id)
        .first()
    )
    if rule is None:
        _raise_if_a_former_couples_rule(request.user, rule_id)
        raise Http404
    return rule, viewer


def _raise_if_a_former_couples_rule(user: User, rule_id: int) -> None:
    if Rule.objects.filter(
        pk=rule_id,
        agreement__couple__ended_at__isnull=False,
        agreement__couple__partners__user=user,
    ).exists():
        raise PartnershipEnded


def past_agreement_or_404(request: HttpRequest, agreement_id: int) -> tuple[Agreement, Viewer]:
    """An archived agreement the signed-in person was a partner in (read-only for both)."""
    id_or_404(agreement_id)
    seat = (
        Partner.objects.select_related("user", "couple__agreement")
        .prefetch_related(with_partners("couple__partners"))
        .filter(
            user=request.user, couple__agreement__pk=agreement_id, couple__ended_at__isnull=False
        )
        .first()
    )
    if seat is None:
        raise Http404
    return seat.couple.agreement, Viewer(Viewer.FORMER, seat)


def access_of_couple_or_404(agreement: Agreement, access_id: object) -> int:
    """A therapist access (or request) of this couple's agreement, by the id a form posted."""
    try:
        access_id = id_or_404(int(access_id))
    except (TypeError, ValueError):
        raise Http404 from None
    if not agreement.therapist_accesses.filter(pk=access_id).exists():
        raise Http404
    return access_id


# -- therapists -----------------------------------------------------------------------------------


def therapist_access_or_404(request: HttpRequest, agreement_id: int) -> TherapistAccess:
    """The signed-in therapist's live access to this agreement."""
    user = request.user
    if not user.is_therapist:
        raise Http404
    id_or_404(agreement_id)
    access = (
        TherapistAccess.objects.select_related("agreement__couple", "therapist")
        .prefetch_related(with_partners("agreement__couple__partners"))
        .filter(
            therapist=user,
            agreement_id=agreement_id,
            status=TherapistAccess.Status.ACTIVE,
            agreement__couple__ended_at__isnull=True,
        )
        .first()
    )
    if access is None:
        raise Http404
    return access


def therapist_agreement_or_404(
    request: HttpRequest, agreement_id: int, *, history: bool = False
) -> tuple[Agreement, Viewer]:
    """The agreement a therapist has live access to. `history`: a page beyond the rules
    (a rule's history, the timeline), found only when the couple shares their history: read on
    every request, so narrowing takes effect on the next one."""
    live = therapist_access_or_404(request, agreement_id)
    if history and not live.shares_history:
        raise Http404
    return live.agreement, Viewer(Viewer.THERAPIST, therapist_access=live)


def rule_of_agreement_or_404(agreement: Agreement, rule_id: int) -> Rule:
    """A rule of an agreement the viewer was already let into (a therapist's pages and forms)."""
    id_or_404(rule_id)
    rule = Rule.objects.filter(pk=rule_id, agreement_id=agreement.pk).first()
    if rule is None:
        raise Http404
    return rule


# -- client links, requests and suggestions -------------------------------------------------------


def client_link_or_404(token: str) -> ClientLink:
    """A link that can still be used. A forged, used, expired or cancelled one is the same 404 as
    a missing one: nobody learns which it was."""
    link = therapy.find_usable_link(token)
    if link is None:
        raise Http404
    return link


def link_id_of_therapist_or_404(request: HttpRequest, link_id: int) -> int:
    """One of the signed-in therapist's own links (whether it is still open, the service says)."""
    id_or_404(link_id)
    if not ClientLink.objects.filter(pk=link_id, therapist=request.user).exists():
        raise Http404
    return link_id


def request_of_partner_or_404(
    request: HttpRequest, access_id: int
) -> tuple[TherapistAccess, Viewer]:
    """A therapist access request waiting in the signed-in partner's couple (the consent page)."""
    id_or_404(access_id)
    try:
        agreement, viewer = partner_agreement_or_404(request)
    except NotLinked:
        raise Http404 from None  # an object of a couple: outsiders learn nothing
    found = (
        agreement.therapist_accesses.select_related("therapist", "requested_by__user")
        .filter(pk=access_id, status=TherapistAccess.Status.REQUESTED)
        .first()
    )
    if found is None:
        raise Http404
    return found, viewer


def suggestion_of_partner_or_404(request: HttpRequest, suggestion_id: int) -> tuple[int, Viewer]:
    """A therapist's suggestion to the signed-in partner's current couple."""
    id_or_404(suggestion_id)
    try:
        viewer = partner_or_404(request)
    except NotLinked:
        raise Http404 from None
    if not Suggestion.objects.filter(
        pk=suggestion_id, agreement__couple_id=viewer.seat.couple_id
    ).exists():
        raise Http404
    return suggestion_id, viewer


# -- before a partner joins -----------------------------------------------------------------------


def alone_or_none(request: HttpRequest) -> User | None:
    """The signed-in person, if they have no current couple (their drafts are theirs alone);
    None once they are linked (the drafts became proposals on their shared agreement)."""
    return None if current_seat(request.user) is not None else request.user


def draft_of_user_or_404(request: HttpRequest, draft_id: int) -> Draft:
    """One of the signed-in person's own drafts; anyone else's is not found."""
    draft = Draft.objects.filter(pk=id_or_404(draft_id), user=request.user).first()
    if draft is None:
        raise Http404
    return draft
