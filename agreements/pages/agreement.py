"""Read models of the agreement's screens: the page, its live region (what the poll answers
with), the answer to an action, one rule's form page, and the printable page. Everything is read
afresh from the database on every request, in a number of queries that does not grow with the
rules."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Partner
from agreements import therapy
from agreements.access import Viewer
from agreements.models import Agreement, Rule, RuleVersion, Suggestion, TherapistAccess
from agreements.pages import therapy as therapy_pages
from agreements.pages.cards import make_card, make_cards, summary
from agreements.rounds import rounds_for

LIVE_RULES = "agreements/_rules.html"
PAGE = {
    Viewer.PARTNER: "agreements/agreement.html",
    Viewer.FORMER: "agreements/archived.html",
    Viewer.THERAPIST: "agreements/therapist/couple.html",
}


def home_url(agreement: Agreement, viewer: Viewer) -> str:
    """Where "Back to the agreement" leads this viewer."""
    if viewer.is_therapist:
        return reverse("therapist:couple", args=[agreement.pk])
    if viewer.is_former:
        return reverse("agreements:archived", args=[agreement.pk])
    return reverse("agreements:agreement")


def partners_of(couple) -> list:
    """The couple's seats with their people, in order (every gate reads them: `seats`)."""
    return couple.seats


# The wordings a rule points at, each shown by some card (rule.wording, rule.change, the declined
# one): read by id in one query, each once however many pointers name it, and set on the rule.
WORDINGS = ("current_version", "pending_version", "agreed_version", "latest_version")


def rules_for_page(agreement: Agreement, partners: list, **filters) -> list[Rule]:
    """Everything the rule cards show but their comments (`comments_by_rule`) and answers
    (`rounds.rounds_for`), in two queries for any number of rules: the rules, then every wording
    they point at with each waiting wording's previous one (its diff). The people named on a card
    (who proposed, withdrew, declined) are the couple's seats the gate read already (`partners`),
    not joined again for every rule."""
    rules = agreement.rules.filter(**filters).in_order()
    wanted = {getattr(rule, f"{name}_id") for rule in rules for name in WORDINGS} - {None}
    if wanted:
        which = Q(pk__in=wanted)
        waiting = [rule.pending_version_id for rule in rules if rule.pending_version_id]
        if waiting:
            which |= Q(pk__in=RuleVersion.objects.filter(pk__in=waiting).values("previous_id"))
        versions = {v.pk: v for v in RuleVersion.objects.filter(which).order_by()}
        for version in versions.values():
            if version.previous_id in versions:
                version.previous = versions[version.previous_id]
        for rule in rules:
            for name in WORDINGS:
                version = versions.get(getattr(rule, f"{name}_id"))
                if version is not None:
                    setattr(rule, name, version)  # the wording read above, not a write
    seats = {p.pk: p for p in partners}
    for rule in rules:
        for role in ("proposed_by", "withdrawn_by", "declined_by"):
            seat = seats.get(getattr(rule, f"{role}_id"))
            if seat is not None:
                setattr(rule, role, seat)  # the seat already read, not a write
    return rules


def comments_by_rule(agreement: Agreement, partners: list, **filters) -> dict[int | None, list]:
    """The agreement's comments by rule id (None: on the whole agreement), in one query, with
    their authors' seats taken from the couple's."""
    found: dict[int | None, list] = {}
    comments = agreement.comments.filter(**filters).select_related("therapist")
    for comment in with_people(comments, {p.pk: p for p in partners}):
        found.setdefault(comment.rule_id, []).append(comment)
    return found


def with_people(comments, seats: dict) -> list:
    """Comments with their authors' seats taken from the couple's (read by the gate)."""
    comments = list(comments)
    for comment in comments:
        seat = seats.get(comment.partner_id)
        if seat is not None:
            comment.partner = seat
    return comments


def _other_name(partners: list, viewer: Viewer) -> str:
    return next((p.name for p in partners if p.pk != viewer.seat_id), "")


def live_region(agreement: Agreement, viewer: Viewer, comments: dict | None = None) -> dict:
    """The context of the page's `live` partial: the summary and the cards, read afresh.
    `comments`: the agreement's comments by rule (`comments_by_rule`), when the caller read them
    already (the whole page, which shows the general ones too)."""
    partners = partners_of(agreement.couple)
    rules = rules_for_page(agreement, partners)
    if comments is None:
        comments = comments_by_rule(agreement, partners, rule__isnull=False)
    rounds = rounds_for(rules, {p.pk: p for p in partners})
    other = _other_name(partners, viewer)
    shown = [r for r in rules if r.state != Rule.State.ARCHIVED]
    archived = [r for r in rules if r.state == Rule.State.ARCHIVED]
    # The poll's ETag and revision are a partner's: a therapist's page does not poll, and the
    # revision counts every event, those a therapist never reads (a request, its decline) too.
    partner_side = not viewer.is_therapist
    agreement.read_clock_from(shown)
    return {
        "agreement": agreement,
        "viewer": viewer,
        "etag": agreement.etag_for(viewer.seat) if partner_side else "",
        "revision": agreement.revision_for(viewer.seat) if partner_side else "",
        "partners": partners,
        "cards": make_cards(shown, viewer, other, rounds, comments),
        "archived_cards": make_cards(archived, viewer, other, rounds, comments),
        "summary": summary(shown, viewer, rounds),
        "pause": pause_of(agreement, partners, viewer),
    }


@dataclass(frozen=True)
class Pause:
    """Pause everything, as one viewer sees it: who paused, when, their note, and whether this
    viewer is the one who may reopen all."""

    name: str  # "" for a therapist at "the rules" level
    at: datetime | None
    note: str
    by_viewer: bool  # the pauser: only they may reopen all


def pause_of(agreement: Agreement, partners: list, viewer: Viewer) -> Pause | None:
    """The agreement's pause for a partner's or the therapist's page (None when nothing is
    paused, and for a former partner). A therapist at "the rules" level learns that everything
    rests, not who paused, when, or why. No query: the pause is on the agreement row, the name
    among the couple's partners the gate read."""
    if agreement.paused_by_id is None or not (viewer.is_partner or viewer.is_therapist):
        return None
    if not viewer.sees_who:
        return Pause("", None, "", by_viewer=False)
    by_viewer = agreement.paused_by_id == viewer.seat_id
    name = next((p.name for p in partners if p.pk == agreement.paused_by_id), "")
    return Pause(name, agreement.paused_at, agreement.pause_note, by_viewer)


def after_pause(seat, viewer: Viewer, *, error: str = "", told: str = "") -> dict:
    """What Pause everything and Reopen all answer with, read after the change: the whole live
    region (every card changed), and the pause control again, blank (out of band). `told`: a
    sentence for the person who acted (nothing rested, say)."""
    agreement = Agreement.objects.get(couple_id=seat.couple_id)
    agreement.couple = seat.couple
    context = live_region(agreement, viewer)
    context.update(pause_error=error, pause_told=told, pause_oob=True)
    return context


def agreement_page(agreement: Agreement, viewer: Viewer) -> dict:
    partners = partners_of(agreement.couple)
    comments = comments_by_rule(agreement, partners)
    context = live_region(agreement, viewer, comments)
    context["general_comments"] = comments.get(None, [])
    if viewer.is_partner:
        # What a partner's page shows besides the rules is there on few pages: one query asks
        # whether it is, and only what is there is read.
        requests, offers = _besides_the_rules(agreement)
        context["access_requests"] = list(_access_notes(agreement)) if requests else []
        cards = [*context["cards"], *context["archived_cards"]]
        if offers:
            context.update(therapy_pages.offered(agreement, {c.rule.pk: c.rule for c in cards}))
        else:
            context.update(suggestions=[], exercises=[])
    return context


def _access_notes(agreement: Agreement) -> QuerySet[TherapistAccess]:
    return agreement.therapist_accesses.select_related("therapist", "requested_by__user").filter(
        status__in=[TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE]
    )


def _besides_the_rules(agreement: Agreement) -> tuple[bool, bool]:
    """Whether the page has access notes, and whether it has offers (open suggestions or
    check-ins ready to start: `therapy_pages.offered`), in one query."""
    open_suggestions = agreement.suggestions.filter(status=Suggestion.Status.OPEN)
    requests, suggestions, exercises = (
        Agreement.objects.filter(pk=agreement.pk)
        .values_list(
            Exists(_access_notes(agreement)),
            Exists(open_suggestions),
            Exists(therapy.pending_exercises(agreement)),
        )
        .get()
    )
    return requests, suggestions or exercises


def card_after_action(
    seat,
    rule_id: int,
    viewer: Viewer,
    *,
    error: str = "",
    open_kind: str = "",
    form=None,
) -> dict:
    """What an action answers with, read after it: the agreement (its revision is the answer's
    ETag), the one card it answers for (holding its form if one is open, `open_kind`) and the
    summary out of band; not every card."""
    # Read afresh: the agreement's revision, and the seat's own (a sealed answer moves it).
    now = Partner.objects.select_related("couple__agreement").get(pk=seat.pk)
    agreement = now.couple.agreement
    agreement.couple = seat.couple
    partners = partners_of(seat.couple)
    # Every rule, for the summary's counts and the titles of what waits for this viewer (a
    # waiting rule's wording is the one in force, the one agreed, or the proposal: never only
    # the latest); the card itself is made for the one rule only.
    rules = rules_for_page(agreement, partners)
    rule = next((r for r in rules if r.pk == rule_id), None)
    if rule is None:
        raise Rule.DoesNotExist(rule_id)
    shown = [r for r in rules if r.state != Rule.State.ARCHIVED]
    rounds = rounds_for([*shown, rule], {p.pk: p for p in partners})
    agreement.read_clock_from(shown)
    comments = comments_by_rule(agreement, partners, rule_id=rule_id).get(rule_id, [])
    other = _other_name(partners, viewer)
    card = make_card(rule, rule.position, viewer, rounds, other, comments=comments)
    card.error = error
    if open_kind:
        card.open(open_kind, form)
    return {
        "agreement": agreement,
        "viewer": viewer,
        "etag": agreement.etag_for(now),
        "revision": agreement.revision_for(now),
        "partners": partners,
        "card": card,
        "summary": summary(shown, viewer, rounds),
        "oob": True,
    }


def rule_form_page(rule: Rule, viewer: Viewer, open_kind: str, form=None) -> dict:
    """An action's form on a page of its own (the path without JavaScript); `open_kind` empty:
    the card as it is (the withdrawal's confirmation has its own form)."""
    card = make_card(rule, rule.position, viewer)
    if open_kind:
        card.open(open_kind, form)
    return {"card": card, "agreement": rule.agreement, "viewer": viewer}


def print_page(agreement: Agreement, viewer: Viewer) -> dict:
    """The printable page: the rules in force only, in the agreement's order (for an archived
    agreement, those in force when it ended)."""
    everything = (
        agreement.rules.select_related("current_version")
        .exclude(state=Rule.State.ARCHIVED)
        .in_order()
    )
    return {
        "not_in_force": not_in_force_sentence(
            {r.position: r.state for r in everything if r.state != Rule.State.ACTIVE}
        ),
        "agreement": agreement,
        "viewer": viewer,
        "back_url": home_url(agreement, viewer),
        "partners": partners_of(agreement.couple),
        "rules": [r for r in everything if r.state == Rule.State.ACTIVE],
        "next_reviews": next_reviews(everything),
        "made_on": timezone.now(),
    }


def next_reviews(rules: list[Rule]) -> list[Rule]:
    """The rules in force that come up for review next: those with the earliest review date
    (every rule due on that day, so two rules due together are both named)."""
    dated = sorted(
        (r for r in rules if r.state == Rule.State.ACTIVE and r.review_at is not None),
        key=lambda r: r.review_at,
    )
    if not dated:
        return []
    first = timezone.localdate(dated[0].review_at)
    return [r for r in dated if timezone.localdate(r.review_at) == first]


def not_in_force_sentence(states: dict[int, str]) -> str:
    """ "Rules 3 and 8 are resting. Rule 10 waits for an answer.", so that the printed numbers
    (each rule's own, for life) have no unexplained gaps. Archived rules are left out."""
    sentences = []
    for state in (Rule.State.PAUSED, Rule.State.PROPOSED, Rule.State.DECLINED):
        numbers = sorted(n for n, s in states.items() if s == state)
        if not numbers:
            continue
        listed = str(numbers[0])
        if len(numbers) > 1:
            listed = _("%(items)s and %(last)s") % {
                "items": ", ".join(map(str, numbers[:-1])),
                "last": numbers[-1],
            }
        named = {"rules": listed}
        count = len(numbers)
        if state == Rule.State.PAUSED:
            text = ngettext("Rule %(rules)s is resting.", "Rules %(rules)s are resting.", count)
        elif state == Rule.State.PROPOSED:
            text = ngettext(
                "Rule %(rules)s waits for an answer.", "Rules %(rules)s wait for an answer.", count
            )
        else:
            text = ngettext(
                "Rule %(rules)s was not agreed.", "Rules %(rules)s were not agreed.", count
            )
        sentences.append(text % named)
    return " ".join(sentences)
