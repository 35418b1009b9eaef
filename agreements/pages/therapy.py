"""Read models of the partners' therapist screens: a client link, the other partner's consent
page, who has access, and what a therapist offered (suggestions, check-in invitations)."""

from agreements import therapy
from agreements.access import Viewer
from agreements.diff import word_diff
from agreements.models import Agreement, ClientLink, Suggestion, TherapistAccess

Status = TherapistAccess.Status
Scope = TherapistAccess.Scope


def levels(therapist) -> list[dict]:
    """The two levels, each with the words a partner agrees to."""
    return [
        {"value": value, "label": label, "statement": therapy.statement(value, therapist)}
        for value, label in Scope.choices
    ]


def client_link_page(link: ClientLink, agreement: Agreement, viewer: Viewer, chosen: str) -> dict:
    therapist = link.therapist
    already = agreement.therapist_accesses.filter(
        therapist=therapist, status__in=[Status.REQUESTED, Status.ACTIVE]
    ).exists()
    return {
        "therapist": therapist,
        "levels": levels(therapist),
        "chosen": chosen or Scope.RULES,
        "already": already,
        "viewer": viewer,
    }


def request_page(access: TherapistAccess, viewer: Viewer) -> dict:
    """The consent page: the same statement the partner who asked agreed to."""
    return {
        "request_": access,
        "viewer": viewer,
        "may_answer": access.requested_by_id != viewer.seat_id,
        # What "Agree, but only the rules" would share instead, in the same words.
        "rules_statement": therapy.statement(Scope.RULES, access.therapist),
    }


def therapist_access_page(agreement: Agreement, viewer: Viewer) -> dict:
    """Who has access, since when, at which level, last viewed; waiting requests; earlier ones."""
    accesses = list(
        agreement.therapist_accesses.select_related(
            "therapist", "requested_by__user", "approved_by__user", "scope_requested_by__user"
        )
    )
    return {
        "viewer": viewer,
        "current": [a for a in accesses if a.status in (Status.REQUESTED, Status.ACTIVE)],
        "past": [a for a in accesses if a.status in (Status.DECLINED, Status.ENDED)],
    }


def offered(agreement: Agreement, rules: dict) -> dict:
    """Open suggestions (with what each would change) and check-ins ready to start, for the
    partners' agreement page: apart from the rules, never counted as anyone's acceptance.
    `rules`: the agreement's rules by id, as the page read them (not joined again here)."""
    suggestions = list(
        Suggestion.objects.filter(agreement=agreement, status=Suggestion.Status.OPEN)
        .select_related("therapist")
        .order_by("created_at", "pk")
    )
    for suggestion in suggestions:
        suggestion.diff = None
        if suggestion.rule_id is not None:
            if suggestion.rule_id in rules:
                suggestion.rule = rules[suggestion.rule_id]  # the rule already read
            suggestion.diff = word_diff(suggestion.rule.shown_version.text, suggestion.text)
    return {
        "suggestions": suggestions,
        "exercises": list(therapy.pending_exercises(agreement)),
    }
