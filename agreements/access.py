"""Who may see what: every view asks here, and an object that is not theirs is a 404."""

from django.db.models import Prefetch
from django.http import Http404, HttpRequest

from accounts.models import Couple, Partner
from agreements.models import Acceptance, Agreement, Comment, Rule, TherapistAccess

# The largest id a database column holds. A larger number in a URL is refused here: SQLite cannot
# even compare with it (OverflowError, a 500) when it is matched against a foreign key.
MAX_ID = 2**63 - 1


def id_or_404(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise Http404
    return value


def seat_or_404(request: HttpRequest) -> Partner:
    """The signed-in partner's seat in their current couple. A GET changes nothing, so its
    agreement comes in the same query; a POST reads it afresh after the change (its revision is
    the new ETag)."""
    related = "couple__agreement" if request.method in ("GET", "HEAD") else "couple"
    seat = (
        Partner.objects.select_related(related)
        .filter(user=request.user, left_at__isnull=True)
        .first()
    )
    if seat is None:
        raise Http404("You are not linked with a partner.")
    return seat


def current_agreement(seat: Partner) -> Agreement:
    if "couple" in seat._state.fields_cache and Couple.agreement.is_cached(seat.couple):
        return seat.couple.agreement  # read along with the seat (a GET)
    return Agreement.objects.select_related("couple").get(couple_id=seat.couple_id)


def past_agreement_or_404(request: HttpRequest, agreement_id: int) -> tuple[Agreement, Partner]:
    """An archived agreement the signed-in person was a partner in (read-only for both)."""
    id_or_404(agreement_id)
    seat = (
        Partner.objects.select_related("couple")
        .filter(
            user=request.user, couple__agreement__pk=agreement_id, couple__ended_at__isnull=False
        )
        .first()
    )
    if seat is None:
        raise Http404
    return Agreement.objects.select_related("couple").get(pk=agreement_id), seat


def rule_of_partner_or_404(request: HttpRequest, rule_id: int) -> tuple[Rule, Partner]:
    id_or_404(rule_id)
    seat = seat_or_404(request)
    rule = (
        Rule.objects.select_related("agreement__couple")
        .filter(pk=rule_id, agreement__couple_id=seat.couple_id)
        .first()
    )
    if rule is None:
        raise Http404
    return rule, seat


def therapist_access_or_404(request: HttpRequest, agreement_id: int) -> TherapistAccess:
    """The signed-in therapist's live access to this agreement."""
    user = request.user
    if not user.is_therapist:
        raise Http404
    id_or_404(agreement_id)
    access = (
        TherapistAccess.objects.select_related("agreement__couple")
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


def rules_for_page(agreement: Agreement):
    """Everything the rule cards show, in a number of queries that does not grow with the rules."""
    live = Acceptance.objects.filter(withdrawn_at__isnull=True).select_related("partner__user")
    return (
        agreement.rules.select_related(
            "current_version",
            "pending_version__previous",
            "agreed_version",
            "latest_version",
        )
        .prefetch_related(
            Prefetch("pending_version__acceptances", queryset=live, to_attr="live_acceptances"),
            Prefetch(
                "comments", queryset=Comment.objects.select_related("partner__user", "therapist")
            ),
        )
        .order_by("position", "pk")
    )
