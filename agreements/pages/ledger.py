"""Read models of the ledger: a rule's history and the agreement-wide timeline."""

from dataclasses import dataclass

from django.db.models import Q

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.models import Acceptance, Agreement, Comment, Event, Rule, RuleVersion
from agreements.pages.agreement import home_url


@dataclass
class VersionEntry:
    version: RuleVersion
    diff: list[Segment] | None
    acceptances: list[Acceptance]
    events: list[Event]


def _seen_by(events, viewer: Viewer | None):
    """Nothing about another therapist reaches a therapist."""
    if viewer is not None and viewer.is_therapist:
        return events.exclude(
            Q(therapist__isnull=False) & ~Q(therapist_id=viewer.therapist_access.therapist_id)
        )
    return events


def rule_history(rule: Rule, viewer: Viewer | None = None) -> list[VersionEntry]:
    versions = list(rule.versions.select_related("previous", "author__user").order_by("number"))
    acceptances = list(
        Acceptance.objects.filter(version__rule=rule)
        .select_related("partner__user")
        .order_by("created_at")
    )
    events = list(
        _seen_by(rule.events, viewer)
        .select_related("partner__user", "therapist", "version")
        .order_by("created_at", "pk")
    )
    entries = []
    for version in versions:
        diff = word_diff(version.previous.text, version.text) if version.previous else None
        entries.append(
            VersionEntry(
                version=version,
                diff=diff,
                acceptances=[a for a in acceptances if a.version_id == version.pk],
                events=[e for e in events if e.version_id == version.pk],
            )
        )
    return entries


def timeline_entries(agreement: Agreement, viewer: Viewer | None = None) -> list[Event | Comment]:
    """Events and comments together, newest first. A therapist (who reaches this only when the
    couple shares their history) reads what the statement lists: every rule event with its note
    and every comment, but nothing about another therapist's access, suggestions or exercises."""
    events = list(
        _seen_by(agreement.events.exclude(kind=Event.Kind.COMMENTED), viewer)
        .select_related("partner__user", "therapist", "rule", "version")
        .order_by("-created_at")[:500]
    )
    comments = list(
        agreement.comments.select_related("partner__user", "therapist", "rule").order_by(
            "-created_at"
        )[:500]
    )
    return sorted(events + comments, key=lambda item: item.created_at, reverse=True)


def history_page(rule: Rule, viewer: Viewer) -> dict:
    return {
        "rule": rule,
        "entries": rule_history(rule, viewer),
        "viewer": viewer,
        "back_url": f"{home_url(rule.agreement, viewer)}#rule-{rule.pk}",
    }


def timeline_page(agreement: Agreement, viewer: Viewer) -> dict:
    return {
        "agreement": agreement,
        "events": timeline_entries(agreement, viewer),
        "viewer": viewer,
        "back_url": home_url(agreement, viewer),
    }
