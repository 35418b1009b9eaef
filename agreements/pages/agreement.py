"""Read models of the agreement's screens: the page, its live region (what the poll and every
action answer with), one rule's form page, and the printable page."""

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from agreements.access import Viewer
from agreements.models import Acceptance, Agreement, Comment, Rule, TherapistAccess
from agreements.pages import memo
from agreements.pages import therapy as therapy_pages
from agreements.pages.cards import Card, answer_rounds, make_card, make_cards, summary

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


def agreement_now(seat) -> Agreement:
    """The agreement as it is after an action (its revision is the answer's ETag), with the
    couple and its partners as this request read them (an action changes neither)."""
    agreement = Agreement.objects.get(couple_id=seat.couple_id)
    agreement.couple = seat.couple
    return agreement


def partners_of(couple) -> list:
    """The couple's seats with their people, in order: as read with the signed-in user
    (accounts/backends.py) when they were, else here."""
    if "partners" in getattr(couple, "_prefetched_objects_cache", {}):
        return list(couple.partners.all())
    return list(couple.partners.select_related("user"))


def rules_for_page(agreement: Agreement):
    """Everything the rule cards show, in a number of queries that does not grow with the rules."""
    live = Acceptance.objects.filter(withdrawn_at__isnull=True).select_related("partner__user")
    return (
        agreement.rules.select_related(
            "current_version",
            "pending_version__previous",
            "agreed_version",
            "latest_version",
            "proposed_by__user",
            "withdrawn_by__user",
        )
        .prefetch_related(
            Prefetch("pending_version__acceptances", queryset=live, to_attr="live_acceptances"),
            Prefetch(
                "comments", queryset=Comment.objects.select_related("partner__user", "therapist")
            ),
        )
        .order_by("position", "pk")
    )


def revision_key(agreement: Agreement, partners: list) -> tuple:
    """What the page's rows depend on beyond the database's revision: the partners' names (a new
    name writes no event). created_at too: a primary key can come back after a rollback (SQLite
    reuses them)."""
    return (
        agreement.pk,
        agreement.created_at,
        agreement.revision,
        tuple((p.pk, p.user_id, p.name) for p in partners),
    )


def page_rows(agreement: Agreement, partners: list) -> tuple[list[Rule], dict]:
    """The page's rules (with their versions, live acceptances and comments) and the answer
    rounds of their waiting wordings, as of the agreement's revision: read once per revision and
    worker (memo.py says why that is exact). The same for every viewer; never changed after."""

    def read() -> tuple[list[Rule], dict]:
        rules = list(rules_for_page(agreement))
        return rules, answer_rounds(rules)

    return memo.page_rows.get_or_make(revision_key(agreement, partners), read)


def live_chunks(context: dict) -> list[str]:
    """The rendered rules of the live region for this viewer (agreements/_rules.html), split where
    the CSRF token goes; kept in the worker's memory by revision and viewer, so that every viewer
    gets exactly their own cards (what a card shows to whom is decided in make_card, before)."""
    viewer, access = context["viewer"], context["viewer"].therapist_access
    key = (
        revision_key(context["agreement"], context["partners"]),
        viewer.kind,
        viewer.seat_id,
        access.pk if access else None,
        getattr(access, "scope", None),
    )

    return memo.kept_fragment(memo.live_html, key, LIVE_RULES, lambda: context)


def live_region(agreement: Agreement, viewer: Viewer) -> dict:
    """The context of the page's `live` partial: the summary and the cards. The poll renders
    it whole (from `live_chunks`, worked out only when the template asks); an action renders
    one card of it and the summary."""
    partners = partners_of(agreement.couple)
    rules, rounds = page_rows(agreement, partners)
    other = next((p.name for p in partners if p.pk != viewer.seat_id), "")
    shown = [r for r in rules if r.state != Rule.State.ARCHIVED]
    archived = [r for r in rules if r.state == Rule.State.ARCHIVED]
    cards = make_cards(shown, viewer, other, rounds)
    context = {
        "agreement": agreement,
        "viewer": viewer,
        "partners": partners,
        "cards": cards,
        "archived_cards": make_cards(archived, viewer, other, rounds),
        "summary": summary(cards),
    }
    context["live_chunks"] = lambda: live_chunks(context)
    return context


def agreement_page(agreement: Agreement, viewer: Viewer) -> dict:
    context = live_region(agreement, viewer)
    # Comments write an event: by revision, like the rules' own (memo.py).
    context.update(
        general_comments=memo.page_rows.get_or_make(
            (revision_key(agreement, context["partners"]), "comments on the whole agreement"),
            lambda: list(
                agreement.comments.filter(rule__isnull=True).select_related(
                    "partner__user", "therapist"
                )
            ),
        ),
    )
    if viewer.is_partner:
        # Therapist access changes write an event, and a therapist's new visit (the "last
        # viewed" shown here) moves the revision too (therapy.record_view); so do a therapist's
        # suggestions and exercises and the answers to them.
        context.update(
            memo.page_rows.get_or_make(
                (revision_key(agreement, context["partners"]), "therapist access and offers"),
                lambda: (
                    {"access_requests": _access_notes(agreement)} | therapy_pages.offered(agreement)
                ),
            )
        )
    return context


def _access_notes(agreement: Agreement) -> list[TherapistAccess]:
    return list(
        agreement.therapist_accesses.select_related("therapist", "requested_by__user").filter(
            status__in=[TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE]
        )
    )


def kept_page(request, agreement: Agreement, viewer: Viewer, previous_visit, render) -> str:
    """The partner's agreement page, rendered afresh: it holds the check-in waiting line, which a
    check-in's change or the clock alone changes, and nothing keys on those any more
    (Couple.checkins_revision is gone). `render(extra)` renders the page."""
    return render({})


def card_after_action(
    agreement: Agreement,
    viewer: Viewer,
    rule_id: int,
    *,
    error: str = "",
    open_kind: str = "",
    form=None,
) -> dict:
    """The live region with the one card an action answers for, holding its form if one is
    open (`open_kind`), and the summary out of band."""
    context = live_region(agreement, viewer)
    card = _find(context, rule_id)
    card.error = error
    if open_kind:
        card.open(open_kind, form)
    context.update(card=card, oob=True)
    return context


def rule_form_page(rule: Rule, viewer: Viewer, open_kind: str, form=None) -> dict:
    """An action's form on a page of its own (the path without JavaScript)."""
    card = make_card(rule, rule.position, viewer).open(open_kind, form)
    return {"card": card, "agreement": rule.agreement, "viewer": viewer}


def print_page(agreement: Agreement, viewer: Viewer) -> dict:
    """The printable page: the rules in force only, in the agreement's order (for an archived
    agreement, those in force when it ended)."""
    partners = partners_of(agreement.couple)
    everything = memo.page_rows.get_or_make(
        (revision_key(agreement, partners), "printable"),
        lambda: list(
            agreement.rules.select_related("current_version")
            .exclude(state=Rule.State.ARCHIVED)
            .order_by("position", "pk")
        ),
    )
    rules = [r for r in everything if r.state == Rule.State.ACTIVE]
    return {
        "not_in_force": not_in_force_sentence(
            {r.position: r.state for r in everything if r.state != Rule.State.ACTIVE}
        ),
        "agreement": agreement,
        "viewer": viewer,
        "back_url": home_url(agreement, viewer),
        "partners": partners,
        "rules": rules,
        "made_on": timezone.now(),
    }


def kept_print_page(agreement: Agreement, viewer: Viewer, render) -> str:
    """The printable page, kept whole in the worker's memory: it holds no form and nothing of
    the request, only the rules in force as of the revision (and the partners' names), where
    "Back" leads this viewer, and the day it was made on. `render()` renders it."""
    key = (
        revision_key(agreement, partners_of(agreement.couple)),
        viewer.kind,
        viewer.seat_id,
        timezone.localdate(),
        "printable page",
    )
    return memo.print_pages.get_or_make(key, render)


def not_in_force_sentence(states: dict[int, str]) -> str:
    """ "Rules 3 and 8 are resting. Rule 10 waits for an answer.", so that the printed numbers
    (each rule's own, for life) have no unexplained gaps. Archived rules are left out."""
    words = {
        Rule.State.PAUSED: ("is resting", "are resting"),
        Rule.State.PROPOSED: ("waits for an answer", "wait for an answer"),
        Rule.State.DECLINED: ("was not agreed", "were not agreed"),
    }
    sentences = []
    for state, (one, many) in words.items():
        numbers = sorted(n for n, s in states.items() if s == state)
        if not numbers:
            continue
        listed = (
            str(numbers[0])
            if len(numbers) == 1
            else ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
        )
        sentences.append(
            f"Rule {listed} {one}." if len(numbers) == 1 else f"Rules {listed} {many}."
        )
    return " ".join(sentences)


def _find(context: dict, rule_id: int) -> Card:
    for card in context["cards"] + context["archived_cards"]:
        if card.rule.pk == rule_id:
            return card
    raise LookupError(rule_id)
