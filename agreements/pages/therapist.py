"""Read models of the therapist's screens: the client list and a client couple's agreement."""

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Partner, User
from agreements import therapy
from agreements.access import Viewer
from agreements.forms import ExerciseForm, SessionNoteForm, SuggestionForm
from agreements.models import (
    MAX_LABEL,
    Agreement,
    CheckInInvitation,
    ClientLink,
    Event,
    Rule,
    Suggestion,
    TherapistAccess,
)
from agreements.pages.agreement import agreement_page


def news(therapist_id: int, since) -> Q:
    """Events that are news to this therapist: what happened after `since`, except the
    therapist's own comments. `since` may be a moment or an outer reference."""
    return Q(created_at__gt=since) & ~Q(therapist_id=therapist_id, partner__isnull=True)


def _count(queryset) -> Coalesce:
    """The number of rows of a correlated queryset, as a subquery (0 when there are none)."""
    counted = queryset.order_by().values("agreement_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _live(therapist: User):
    return TherapistAccess.objects.filter(
        therapist=therapist,
        status=TherapistAccess.Status.ACTIVE,
        agreement__couple__ended_at__isnull=True,
    )


def _with_counts(accesses, therapist: User):
    """Each access with its couple's counts: correlated subqueries, so dear per row."""
    rules = Rule.objects.filter(agreement=OuterRef("agreement_id")).exclude(
        state=Rule.State.ARCHIVED
    )
    # What the ledger lets this therapist read is all that counts as news or activity: nothing
    # sealed, nothing about a request or a declined one (Event.objects.seen_by_therapist).
    events = Event.objects.seen_by_therapist(
        OuterRef("therapist_id"), OuterRef("granted_at"), OuterRef("scope")
    ).filter(agreement=OuterRef("agreement_id"))
    since_last_visit = Coalesce(OuterRef("last_viewed_at"), OuterRef("granted_at"))
    return accesses.annotate(
        in_force=_count(rules.in_force_now()),
        waiting=_count(rules.filter(pending_version__isnull=False)),
        paused=_count(rules.resting_now()),
        total=_count(rules),
        news=_count(events.filter(news(therapist.pk, since_last_visit))),
        last_activity=Subquery(events.order_by("-created_at").values("created_at")[:1]),
    )


def client_accesses(therapist: User):
    """The therapist's live accesses with everything the home page shows, most recent activity
    first: two queries for any number of couples."""
    current = Partner.objects.filter(left_at__isnull=True).select_related("user")
    return (
        _with_counts(_live(therapist), therapist)
        .select_related("agreement__couple", "client_link")
        .defer("email")  # encrypted, and not shown here: no need to decrypt it for every couple
        .prefetch_related(
            Prefetch("agreement__couple__partners", queryset=current, to_attr="current_partners")
        )
        .order_by(F("last_activity").desc(nulls_last=True), "pk")
    )


def home_page(
    therapist: User, *, new_link: ClientLink | None = None, new_link_url: str = ""
) -> dict:
    """The client list, the links still open to this therapist's eyes, and (once, in the answer
    that made it) a new link."""
    clients = list(client_accesses(therapist))
    return {
        "clients": clients,
        "links": list(therapy.open_links(therapist)),
        "new_link": new_link,
        "new_link_url": new_link_url,
        # With no client now: whether an access this therapist had has ended (the home says so,
        # rather than that no couple ever gave access). Asked only when the list is empty.
        "had_access": not clients
        and TherapistAccess.objects.filter(therapist=therapist, granted_at__isnull=False).exists(),
        "label_max": MAX_LABEL,
    }


def couple_page(
    agreement: Agreement,
    viewer: Viewer,
    *,
    previous_visit=None,
    suggestion_form: SuggestionForm | None = None,
    exercise_form: ExerciseForm | None = None,
    session_note_form: SessionNoteForm | None = None,
) -> dict:
    """The agreement, read-only, with what is new since the therapist's previous visit (kept for
    the whole visit: a reload does not erase it; see therapy.record_view), and the therapist's
    own tools: suggestions and their fate, check-in invitations, session notes."""
    live = viewer.therapist_access
    therapist = live.therapist
    context = agreement_page(agreement, viewer)
    since = previous_visit or live.granted_at
    note = therapy.session_note(therapist, agreement)
    rules = [card.rule for card in context["cards"]]
    context.update(
        access=live,
        previous_visit=previous_visit,
        news=agreement.events.seen_through(live).filter(news(live.therapist_id, since)).count(),
        suggestions=list(
            Suggestion.objects.filter(agreement=agreement, therapist=therapist)
            .select_related("adopted_rule")
            .order_by("-created_at", "pk")
        ),
        exercises=list(
            CheckInInvitation.objects.filter(agreement=agreement, therapist=therapist)
            .select_related("rule__latest_version")
            .order_by("-created_at", "pk")
        ),
        session_note=note,
        suggestion_form=suggestion_form or SuggestionForm(prefix="suggest"),
        exercise_form=exercise_form or ExerciseForm(prefix="exercise", rules=rules),
        session_note_form=session_note_form
        or SessionNoteForm(prefix="notes", initial={"text": note.text if note else ""}),
    )
    return context


def suggest_wording_page(rule: Rule, form: SuggestionForm | None = None) -> dict:
    shown = rule.shown_version
    return {
        "rule": rule,
        "form": form or SuggestionForm(initial={"title": shown.title, "text": shown.text}),
    }
