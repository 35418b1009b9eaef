"""Read models of the therapist's screens: the client list and a client couple's agreement."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connections, router
from django.db.models import (
    Count,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation

from accounts.models import FORMER_PARTNER, Partner, User
from agreements import therapy
from agreements.access import Viewer
from agreements.forms import ExerciseForm, SessionNoteForm, SuggestionForm
from agreements.models import (
    Agreement,
    CheckInInvitation,
    ClientLink,
    Event,
    Rule,
    Suggestion,
    TherapistAccess,
)
from agreements.pages import memo
from agreements.pages.agreement import agreement_page
from intimacy.db import prepared_cursor


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
    events = Event.objects.filter(agreement=OuterRef("agreement_id"))
    since_last_visit = Coalesce(OuterRef("last_viewed_at"), OuterRef("granted_at"))
    return accesses.annotate(
        in_force=_count(rules.filter(state=Rule.State.ACTIVE)),
        waiting=_count(rules.filter(pending_version__isnull=False)),
        paused=_count(rules.filter(state=Rule.State.PAUSED)),
        total=_count(rules),
        news=_count(events.filter(news(therapist.pk, since_last_visit))),
        last_activity=Subquery(events.order_by("-created_at").values("created_at")[:1]),
    )


def client_accesses(therapist: User):
    """The therapist's live accesses with everything the home page shows, read whole (the home
    itself keeps each couple's section: client_sections)."""
    current = Partner.objects.filter(left_at__isnull=True).select_related("user")
    return (
        _with_counts(_live(therapist), therapist)
        .select_related("agreement__couple")
        .defer("email")  # encrypted, and not shown here: no need to decrypt it for every couple
        .prefetch_related(
            Prefetch("agreement__couple__partners", queryset=current, to_attr="current_partners")
        )
        .order_by(F("last_activity").desc(nulls_last=True), "pk")
    )


class ClientRow(NamedTuple):
    """What a client's section on the home depends on, read afresh by every request: the
    access, its agreement's revision (every event moves it, in the event's transaction) and the
    current partners' names (a new name writes no event). A tuple, so a cheap key."""

    access_id: int
    agreement_id: int
    agreement_created: datetime  # a primary key can come back after a rollback (SQLite)
    revision: int
    scope: str
    granted_at: datetime
    last_viewed_at: datetime | None
    partners: tuple[tuple[int, str], ...]

    @property
    def shares_history(self) -> bool:
        return self.scope == TherapistAccess.Scope.HISTORY

    def get_scope_display(self) -> str:
        return TherapistAccess.Scope(self.scope).label


@dataclass(frozen=True)
class ClientSection:
    last_activity: datetime | None
    html: str


@functools.cache
def _rows_of_live_accesses():
    """Built once per process (building costs more than running it): each live access, with a
    row per current partner."""
    current = FilteredRelation(
        "agreement__couple__partners",
        condition=Q(agreement__couple__partners__left_at__isnull=True),
    )
    return (
        TherapistAccess.objects.filter(
            status=TherapistAccess.Status.ACTIVE, agreement__couple__ended_at__isnull=True
        )
        .alias(current=current)
        .order_by("pk", "current__joined_at", "current__pk")
        .values_list(
            "pk",
            "agreement_id",
            "agreement__created_at",
            "agreement__revision",
            "scope",
            "granted_at",
            "last_viewed_at",
            "current__pk",
            "current__user_id",
            "current__user__display_name",
        )
    )


# Stands for the therapist's id in the statement compiled once (_live_accesses_statement).
_THERAPIST = -(2**62) + 17


@functools.cache
def _live_accesses_statement(alias: str) -> tuple[str, list, int]:
    """The SQL of _rows_of_live_accesses for one therapist, compiled once per process, with the
    place of the therapist's id among its parameters."""
    query = _rows_of_live_accesses().filter(therapist_id=_THERAPIST).query
    sql, params = query.get_compiler(alias).as_sql()
    return sql, list(params), list(params).index(_THERAPIST)


def _live_access_rows(therapist: User):
    """On PostgreSQL, the statement compiled once and prepared once per connection: building it
    through the ORM on every load was most of the home's time. (Its values need no converting
    there; elsewhere the ORM reads them.)"""
    alias = router.db_for_read(TherapistAccess)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return _rows_of_live_accesses().filter(therapist=therapist)
    sql, params, at = _live_accesses_statement(alias)
    params = [*params[:at], therapist.pk, *params[at + 1 :]]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def client_rows(therapist: User) -> list[ClientRow]:
    """The live accesses with their partners, in one narrow query."""
    found = _live_access_rows(therapist)
    rows: dict[int, tuple] = {}
    names: dict[int, list] = {}
    for *access, partner_id, user_id, display_name in found:
        rows.setdefault(access[0], tuple(access))
        if partner_id is not None:
            name = display_name if user_id is not None else FORMER_PARTNER
            names.setdefault(access[0], []).append((partner_id, name))
    return [ClientRow(*row, partners=tuple(names.get(pk, ()))) for pk, row in rows.items()]


SECTION = "agreements/therapist/home.html#client"


def client_sections(therapist: User) -> list[str]:
    """Each client couple's rendered section, most recent activity first. A section is kept in
    the worker's memory (memo.py: never the shared cache) by everything it shows but its counts,
    and the agreement's revision, which moves with every change of those; the counts are read
    in one query for the sections this worker does not hold."""
    rows = client_rows(therapist)
    # What else a section's dates, words and links depend on.
    context = (
        therapist.pk,
        timezone.get_current_timezone_name(),
        translation.get_language(),
        get_script_prefix(),
    )
    keys = {row.access_id: (context, row) for row in rows}
    kept = memo.client_sections.get_many(list(keys.values()))
    sections = {
        row.access_id: kept[keys[row.access_id]] for row in rows if keys[row.access_id] in kept
    }
    missing = [row for row in rows if row.access_id not in sections]
    if missing:
        counted = {
            c["pk"]: c
            for c in _with_counts(
                TherapistAccess.objects.filter(pk__in=[row.access_id for row in missing]), therapist
            ).values(
                "pk",
                "agreement__revision",
                "granted_at",
                "last_viewed_at",
                "scope",
                "in_force",
                "waiting",
                "paused",
                "total",
                "news",
                "last_activity",
            )
        }
        for row in missing:
            counts = counted.get(row.access_id)
            if counts is None:  # ended a moment ago: gone from the next request
                continue
            html = render_to_string(SECTION, {"client": row, "counts": counts})
            section = ClientSection(counts["last_activity"], html)
            sections[row.access_id] = section
            # Kept only if the counts were read at the revision and visit of the key: a change
            # committed between the two reads is for the next request to read whole.
            read_at = (
                counts["agreement__revision"],
                counts["granted_at"],
                counts["last_viewed_at"],
                counts["scope"],
            )
            if read_at == (row.revision, row.granted_at, row.last_viewed_at, row.scope):
                memo.client_sections.put(keys[row.access_id], section)
    # Most recent activity first, none last; among equals by access (the sort is stable).
    shown = [section for _, section in sorted(sections.items())]
    shown.sort(key=lambda s: (s.last_activity is not None, s.last_activity or NEVER), reverse=True)
    return [section.html for section in shown]


NEVER = datetime.min.replace(tzinfo=UTC)


def home_page(
    therapist: User, *, new_link: ClientLink | None = None, new_link_url: str = ""
) -> dict:
    """The client list, the links still open to this therapist's eyes, and (once, in the answer
    that made it) a new link."""
    return {
        "clients": client_sections(therapist),
        "links": list(therapy.open_links(therapist)),
        "new_link": new_link,
        "new_link_url": new_link_url,
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
        news=agreement.events.filter(news(live.therapist_id, since)).count(),
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
