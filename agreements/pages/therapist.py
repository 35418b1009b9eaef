"""Read models of the therapist's screens: the client list and a client couple's agreement."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
    in_force_now,
    resting_now,
)
from agreements.pages.agreement import agreement_page
from intimacy.rows import Dates, address, sentence


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


def _with_news(accesses, therapist: User):
    """Each access with its couple's news and last activity: correlated subqueries."""
    # What the ledger lets this therapist read is all that counts as news or activity: nothing
    # sealed, nothing about a request or a declined one (Event.objects.seen_by_therapist).
    events = Event.objects.seen_by_therapist(
        OuterRef("therapist_id"), OuterRef("granted_at"), OuterRef("scope")
    ).filter(agreement=OuterRef("agreement_id"))
    since_last_visit = Coalesce(OuterRef("last_viewed_at"), OuterRef("granted_at"))
    return accesses.annotate(
        news=_count(events.filter(news(therapist.pk, since_last_visit))),
        last_activity=Subquery(events.order_by("-created_at").values("created_at")[:1]),
    )


def client_accesses(therapist: User) -> list[dict]:
    """The therapist's live accesses with everything the home page shows, most recent activity
    first, as plain rows (no model is built for them): two queries for any number of couples,
    the accesses with their news, and the counts of their rules."""
    accesses = list(
        _with_news(_live(therapist), therapist)
        .order_by(F("last_activity").desc(nulls_last=True), "pk")
        .values(
            "agreement_id",
            "agreement__couple_id",
            "client_link_id",
            "client_link__label",
            "scope",
            "granted_at",
            "last_viewed_at",
            "news",
            "last_activity",
        )
    )
    counts = {
        row.pop("agreement_id"): row
        for row in Rule.objects.filter(agreement_id__in=[a["agreement_id"] for a in accesses])
        .exclude(state=Rule.State.ARCHIVED)
        .order_by()
        .values("agreement_id")
        .annotate(
            in_force=Count("pk", filter=in_force_now()),
            waiting=Count("pk", filter=Q(pending_version__isnull=False)),
            paused=Count("pk", filter=resting_now()),
            total=Count("pk"),
        )
    }
    none = {"in_force": 0, "waiting": 0, "paused": 0, "total": 0}
    for access in accesses:
        access.update(counts.get(access["agreement_id"], none))
    return accesses


@dataclass
class ClientRow:
    """One client couple's card on the therapist's home, its sentences in the viewer's language
    and time zone."""

    agreement_id: int
    names: list[str]  # of the couple's current partners
    link: dict | None  # the therapist's client link: {"pk", "label"} for the label form
    shares_history: bool
    url: str
    timeline_url: str
    counts: str
    visit: str
    last_activity: str  # "" when nothing happened yet
    last_activity_iso: str
    since: str


class _Sentences:
    """The cards' sentences for one request, each distinct one made once: fifty couples mostly
    share their counts and their days."""

    def __init__(self) -> None:
        self.dates = Dates()
        self._made: dict[tuple, str] = {}

    def _once(self, key: tuple, make) -> str:
        text = self._made.get(key)
        if text is None:
            text = self._made[key] = make()
        return text

    def counts(self, in_force: int, total: int, waiting: int, paused: int) -> str:
        return self._once(
            ("counts", in_force, total, waiting, paused),
            # Each part is safe (sentence): so is the line.
            lambda: mark_safe(  # noqa: S308
                " · ".join(
                    (
                        sentence(
                            _("<strong>%(in_force)s of %(total)s</strong> rules in force"),
                            in_force=in_force,
                            total=total,
                        ),
                        sentence(
                            ngettext(
                                "%(n)s waiting for acceptance",
                                "%(n)s waiting for acceptance",
                                waiting,
                            ),
                            n=waiting,
                        ),
                        sentence(ngettext("%(n)s paused", "%(n)s paused", paused), n=paused),
                    )
                )
            ),
        )

    def visit(self, news: int, last_viewed_at) -> str:
        if last_viewed_at is None:
            return self._once(
                ("new",),
                lambda: sentence(_("<strong>New:</strong> you have not opened this agreement yet")),
            )
        if news:
            said = self._once(
                ("news", news),
                lambda: ngettext(
                    "<strong>%(n)s update</strong> since your last visit on %(when)s",
                    "<strong>%(n)s updates</strong> since your last visit on %(when)s",
                    news,
                ),
            )
        else:
            said = self._once(
                ("nothing new",), lambda: _("Nothing new since your last visit on %(when)s")
            )
        return sentence(said, n=news, when=self.dates.day_and_time(last_viewed_at))

    def since(self, granted_at) -> str:
        day = self.dates.day(granted_at)
        return self._once(("since", day), lambda: sentence(_("access since %(day)s"), day=day))


def client_rows(therapist: User) -> list[ClientRow]:
    """The cards of the therapist's home (see client_accesses), with the couples' current
    partners (one query more) and the addresses made once for all of them."""
    accesses = client_accesses(therapist)
    names = defaultdict(list)
    for couple_id, display_name in (
        Partner.objects.filter(
            couple_id__in=[a["agreement__couple_id"] for a in accesses], left_at__isnull=True
        )
        .order_by("joined_at", "pk")
        .values_list("couple_id", "user__display_name")
    ):
        names[couple_id].append(Partner.name_of(display_name))
    couple = address("therapist:couple")
    timeline = address("therapist:timeline")
    say = _Sentences()
    rows = []
    for a in accesses:
        agreement_id = a["agreement_id"]
        last_activity = a["last_activity"]
        rows.append(
            ClientRow(
                agreement_id=agreement_id,
                names=names[a["agreement__couple_id"]],
                link={"pk": a["client_link_id"], "label": a["client_link__label"]}
                if a["client_link_id"]
                else None,
                shares_history=a["scope"] == TherapistAccess.Scope.HISTORY,
                url=couple(agreement_id),
                timeline_url=timeline(agreement_id),
                counts=say.counts(a["in_force"], a["total"], a["waiting"], a["paused"]),
                visit=say.visit(a["news"], a["last_viewed_at"]),
                last_activity=say.dates.day_and_time(last_activity) if last_activity else "",
                last_activity_iso=say.dates.iso(last_activity) if last_activity else "",
                since=say.since(a["granted_at"]),
            )
        )
    return rows


def home_page(
    therapist: User, *, new_link: ClientLink | None = None, new_link_url: str = ""
) -> dict:
    """The client list, the links still open to this therapist's eyes, and (once, in the answer
    that made it) a new link."""
    clients = client_rows(therapist)
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
