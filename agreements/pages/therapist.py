"""Read models of the therapist's screens: the client list and a client couple's agreement."""

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Partner, User
from agreements.access import Viewer
from agreements.models import Agreement, Event, Rule, TherapistAccess
from agreements.pages.agreement import agreement_page


def news(therapist_id: int, since) -> Q:
    """Events that are news to this therapist: what happened after `since`, except the
    therapist's own comments. `since` may be a moment or an outer reference."""
    return Q(created_at__gt=since) & ~Q(therapist_id=therapist_id, partner__isnull=True)


def _count(queryset) -> Coalesce:
    """The number of rows of a correlated queryset, as a subquery (0 when there are none)."""
    counted = queryset.order_by().values("agreement_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def client_accesses(therapist: User):
    """The therapist's live accesses with everything the home page shows, in a fixed number of
    queries however many couples there are."""
    rules = Rule.objects.filter(agreement=OuterRef("agreement_id")).exclude(
        state=Rule.State.ARCHIVED
    )
    events = Event.objects.filter(agreement=OuterRef("agreement_id"))
    since_last_visit = Coalesce(OuterRef("last_viewed_at"), OuterRef("granted_at"))
    current = Partner.objects.filter(left_at__isnull=True).select_related("user")
    return (
        TherapistAccess.objects.filter(
            therapist=therapist,
            status=TherapistAccess.Status.ACTIVE,
            agreement__couple__ended_at__isnull=True,
        )
        .select_related("agreement__couple")
        .defer("email")  # encrypted, and not shown here: no need to decrypt it for every couple
        .prefetch_related(
            Prefetch("agreement__couple__partners", queryset=current, to_attr="current_partners")
        )
        .annotate(
            in_force=_count(rules.filter(state=Rule.State.ACTIVE)),
            waiting=_count(rules.filter(pending_version__isnull=False)),
            paused=_count(rules.filter(state=Rule.State.PAUSED)),
            total=_count(rules),
            news=_count(events.filter(news(therapist.pk, since_last_visit))),
            last_activity=Subquery(events.order_by("-created_at").values("created_at")[:1]),
        )
        .order_by(F("last_activity").desc(nulls_last=True), "pk")
    )


def home_page(therapist: User) -> dict:
    return {"clients": list(client_accesses(therapist))}


def couple_page(agreement: Agreement, viewer: Viewer, *, previous_visit=None) -> dict:
    """The agreement, read-only, with what is new since the therapist's previous visit (kept for
    the whole visit: a reload does not erase it; see therapy.record_view)."""
    live = viewer.therapist_access
    context = agreement_page(agreement, viewer)
    since = previous_visit or live.granted_at
    context.update(
        access=live,
        previous_visit=previous_visit,
        news=agreement.events.filter(news(live.therapist_id, since)).count(),
    )
    return context
