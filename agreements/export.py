"""The agreements part of a person's export, and the Markdown of the whole document (composed in
intimacy/privacy.py). A partner gets every agreement they were part of; a therapist gets their
own accesses, notes and links only, never the couples' data. Texts are decrypted; times are
ISO 8601 in UTC in the JSON, and in the reader's time zone in the Markdown."""

import re
from datetime import datetime

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.export import iso
from accounts.models import Partner, User
from agreements.models import (
    Acceptance,
    Agreement,
    CheckInInvitation,
    ClientLink,
    Comment,
    Draft,
    Event,
    Rule,
    RuleVersion,
    SessionNote,
    Suggestion,
    TherapistAccess,
)
from intimacy.validators import one_line

REMOVED = gettext_lazy("(removed by its author)")

# -- JSON -----------------------------------------------------------------------------------------


def therapist_data(user: User) -> dict:
    """A therapist's own part: their accesses, session notes and client links. An access is
    theirs from the moment both partners agreed: a request, a declined one, or when it was
    asked for, is the couple's and never in here."""
    return {
        "therapist_accesses": [
            {
                "id": access.pk,
                "agreement_id": access.agreement_id,
                "status": access.status,
                "scope": access.scope,
                "granted_at": iso(access.granted_at),
                "ended_at": iso(access.ended_at),
                "last_viewed_at": iso(access.last_viewed_at),
                "previous_viewed_at": iso(access.previous_viewed_at),
            }
            for access in TherapistAccess.objects.filter(
                therapist=user, granted_at__isnull=False
            ).order_by("pk")
        ],
        # The therapist's own writing; the couples' data stays with the couples.
        "session_notes": [
            {
                "agreement_id": note.agreement_id,
                "text": note.text,
                "created_at": iso(note.created_at),
                "updated_at": iso(note.updated_at),
            }
            for note in SessionNote.objects.filter(therapist=user).order_by("pk")
        ],
        "client_links": [
            {
                "id": link.pk,
                "created_at": iso(link.created_at),
                "expires_at": iso(link.expires_at),
                "cancelled_at": iso(link.cancelled_at),
                "label": link.label,
            }
            for link in ClientLink.objects.filter(therapist=user).order_by("pk")
        ],
    }


def drafts_data(user) -> list[dict]:
    """What the person drafted before a partner joined (agreements.drafts): theirs alone."""
    return [
        {
            "id": draft.pk,
            "default_rule": draft.default_position,
            "title": draft.title,
            "text": draft.text,
            "note": draft.note,
            "created_at": iso(draft.created_at),
        }
        for draft in Draft.objects.filter(user=user)
    ]


def couple_data(seat: Partner) -> dict:
    """One couple this person was part of, from their seat: the partners and the agreement."""
    couple = seat.couple
    partners = list(couple.partners.select_related("user"))
    agreement = Agreement.objects.filter(couple=couple).first()
    return {
        "id": couple.pk,
        "created_at": iso(couple.created_at),
        "ended_at": iso(couple.ended_at),
        "your_seat_id": seat.pk,
        "partners": [
            {
                "seat_id": partner.pk,
                "name": partner.name,
                "is_you": partner.pk == seat.pk,
                "joined_at": iso(partner.joined_at),
                "left_at": iso(partner.left_at),
            }
            for partner in partners
        ],
        "agreement": _agreement(agreement, seat) if agreement else None,
    }


def _agreement(agreement: Agreement, seat: Partner) -> dict:
    """The agreement as this partner may read it: never the other partner's sealed answers."""
    acceptances = Acceptance.objects.filter(Q(sealed=False) | Q(partner=seat))
    versions = Prefetch(
        "versions",
        queryset=RuleVersion.objects.select_related("author__user")
        .prefetch_related(
            Prefetch(
                "acceptances",
                queryset=acceptances.select_related("partner__user").order_by("created_at", "pk"),
            )
        )
        .order_by("number"),
    )
    rules = agreement.rules.prefetch_related(versions).order_by("position", "pk")
    events = (
        agreement.events.visible_to(seat.pk)
        .select_related("partner__user", "therapist")
        .order_by("created_at", "pk")
    )
    comments = agreement.comments.select_related("partner__user", "therapist").order_by(
        "created_at", "pk"
    )
    accesses = agreement.therapist_accesses.select_related(
        "therapist", "requested_by__user", "approved_by__user"
    ).order_by("requested_at", "pk")
    return {
        "id": agreement.pk,
        "created_at": iso(agreement.created_at),
        "archived": agreement.is_archived,
        "rules": [_rule(rule) for rule in rules],
        "events": [_event(event) for event in events],
        "comments": [_comment(comment) for comment in comments],
        "therapist_accesses": [_access(access) for access in accesses],
        "suggestions": [
            _suggestion(suggestion)
            for suggestion in Suggestion.objects.filter(agreement=agreement)
            .select_related("therapist", "adopted_by__user", "set_aside_by__user")
            .order_by("created_at", "pk")
        ],
        "checkin_invitations": [
            {
                "id": invitation.pk,
                "therapist": invitation.therapist_name,
                "rule_id": invitation.rule_id,
                "prompt": invitation.prompt,
                "created_at": iso(invitation.created_at),
                "started_at": iso(invitation.started_at),
            }
            for invitation in CheckInInvitation.objects.filter(agreement=agreement)
            .select_related("therapist")
            .order_by("created_at", "pk")
        ],
    }


def _suggestion(suggestion: Suggestion) -> dict:
    decided_by = suggestion.adopted_by or suggestion.set_aside_by
    return {
        "id": suggestion.pk,
        "therapist": suggestion.therapist_name,
        "rule_id": suggestion.rule_id,
        "title": suggestion.title,
        "text": suggestion.text,
        "note": suggestion.note,
        "status": suggestion.status,
        "decided_by": decided_by.name if decided_by else None,
        "adopted_version_id": suggestion.adopted_version_id,
        "created_at": iso(suggestion.created_at),
        "decided_at": iso(suggestion.decided_at),
    }


def _rule(rule: Rule) -> dict:
    return {
        "id": rule.pk,
        "position": rule.position,
        "state": rule.state,
        "state_label": rule.get_state_display(),
        "in_force_since": iso(rule.in_force_since),
        # While in force with a review interval: the day it comes up for review (ISO, UTC), and
        # whether the review is open now; a rule read past its lapse reads as resting.
        "review_on": rule.review_at.date().isoformat()
        if rule.review_at and rule.is_in_force
        else None,
        "review_at": iso(rule.review_at) if rule.is_in_force else None,
        "review_due": rule.review_due,
        "created_at": iso(rule.created_at),
        "current_version_id": rule.current_version_id,
        "pending_version_id": rule.pending_version_id,
        "latest_version_id": rule.latest_version_id,
        # A resting rule: the wording both had agreed, and when consent was withdrawn.
        "agreed_version_id": rule.agreed_version_id,
        "withdrawn_at": iso(rule.withdrawn_at),
        "versions": [_version(version) for version in rule.versions.all()],
    }


def _version(version: RuleVersion) -> dict:
    return {
        "id": version.pk,
        "number": version.number,
        "previous_id": version.previous_id,
        "title": version.title,
        "text": version.text,
        "removed": version.removed,
        "author_seat_id": version.author_id,
        "author": version.author.name if version.author_id else None,
        "created_at": iso(version.created_at),
        # Part of what both accept: "1m", "3m", "6m", "12m", or "" for no review date.
        "review_after": version.review_after,
        "acceptances": [
            {
                "id": acceptance.pk,
                "seat_id": acceptance.partner_id,
                "partner": acceptance.partner.name,
                "created_at": iso(acceptance.created_at),
                "withdrawn_at": iso(acceptance.withdrawn_at),
            }
            for acceptance in version.acceptances.all()
        ],
    }


def _event(event: Event) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "description": event.get_kind_display(),
        "rule_id": event.rule_id,
        "version_id": event.version_id,
        "seat_id": event.partner_id,
        "by": event.actor_name,
        "note": event.note,
        "note_removed": event.note_removed,
        "created_at": iso(event.created_at),
    }


def _comment(comment: Comment) -> dict:
    return {
        "id": comment.pk,
        "rule_id": comment.rule_id,
        "seat_id": comment.partner_id,
        "by": comment.author_name,
        "by_therapist": comment.by_therapist,
        "text": comment.text,
        "removed": comment.removed,
        "created_at": iso(comment.created_at),
    }


def _access(access: TherapistAccess) -> dict:
    return {
        "id": access.pk,
        # Named only once both partners let them in: a request alone must not reveal whether an
        # email belongs to a therapist, nor who they are.
        "therapist": access.therapist_name if access.granted_at else None,
        "email": access.email,
        "status": access.status,
        "scope": access.scope,
        "statement": access.statement_shown,
        "requested_by": access.requested_by.name,
        "approved_by": access.approved_by.name if access.approved_by_id else None,
        "requested_at": iso(access.requested_at),
        "granted_at": iso(access.granted_at),
        "ended_at": iso(access.ended_at),
        "last_viewed_at": iso(access.last_viewed_at),
    }


# -- Markdown -------------------------------------------------------------------------------------


def markdown(data: dict, *, before_timeline: dict[int, list[str]] | None = None) -> str:
    """The whole document (as intimacy/privacy.py composed it) for a person to read: the
    account, then each agreement with the rules in force first, every version and who accepted
    it, the comments and the timeline. `before_timeline`: more lines for a couple (by its id),
    put before its timeline (another app's part of it)."""
    account = data["account"]
    lines = [
        _("# Rules of the Road: your data"),
        "",
        _("Exported %(when)s (times in %(zone)s).")
        % {"when": _when(data["exported_at"]), "zone": timezone.get_current_timezone_name()},
        "",
        _("## Your account"),
        "",
        _("- Name: %(name)s") % {"name": _md(account["display_name"])},
        _("- Email: %(email)s") % {"email": _md(account["email"])},
        _("- Account type: therapist") if account["is_therapist"] else _("- Account type: partner"),
    ]
    if account["practice_name"]:
        lines.append(_("- Practice: %(practice)s") % {"practice": _md(account["practice_name"])})
    methods = ", ".join(a["type"] for a in account["mfa_authenticators"])
    lines += [
        _("- Joined: %(when)s") % {"when": _when(account["date_joined"])},
        _("- Last sign-in: %(when)s") % {"when": _when(account["last_login"])},
        _("- Emails about your partner's updates: on")
        if account["partner_update_emails"]
        else _("- Emails about your partner's updates: off"),
        _("- Two-factor methods: %(methods)s") % {"methods": methods}
        if methods
        else _("- Two-factor methods: none"),
        _("- Signed-in sessions: %(count)s") % {"count": len(account["sessions"])},
        "",
    ]
    if account["is_therapist"]:
        lines += [
            _("## Access to couples' agreements"),
            "",
            _("The agreements themselves belong to the couples and are not part of your export."),
            "",
        ]
        for access in data["therapist_accesses"]:
            named = {
                "id": access["id"],
                "status": access["status"],
                "given": _when(access["granted_at"]),
                "ended": _when(access["ended_at"]),
            }
            if access["ended_at"]:
                line = _("- Access %(id)s: %(status)s, given %(given)s, ended %(ended)s") % named
            else:
                line = _("- Access %(id)s: %(status)s, given %(given)s") % named
            lines.append(line)
        if not data["therapist_accesses"]:
            lines.append(_("You have not had access to any agreement."))
        if data["session_notes"]:
            lines += ["", _("## Your session notes"), ""]
            for note in data["session_notes"]:
                lines += [
                    _("### Agreement %(id)s, saved %(when)s")
                    % {"id": note["agreement_id"], "when": _when(note["updated_at"])},
                    "",
                    *_quote(note["text"]),
                    "",
                ]
        return "\n".join(lines).rstrip() + "\n"
    if data.get("drafts"):
        lines += [_("## Your drafts, kept until a partner joins you"), ""]
        for draft in data["drafts"]:
            title = _md(draft["title"]) or _("Draft")
            if draft["default_rule"]:
                heading = _("### %(title)s (a different wording for default rule %(number)s)") % {
                    "title": title,
                    "number": draft["default_rule"],
                }
            else:
                heading = _("### %(title)s (a new rule)") % {"title": title}
            lines += [heading, "", *_quote(draft["text"])]
            if draft["note"]:
                lines += ["", _("Your note: %(note)s") % {"note": _md(draft["note"])}]
            lines.append("")
    if not data["couples"]:
        lines += [_("You have not been part of a couple, so there is no agreement."), ""]
    for couple in data["couples"]:
        lines += _couple_markdown(couple, (before_timeline or {}).get(couple["id"], []))
    return "\n".join(lines).rstrip() + "\n"


def _couple_markdown(couple: dict, before_timeline: list[str]) -> list[str]:
    names = [_md(p["name"]) for p in couple["partners"]]
    if len(names) > 1:
        names = _("%(items)s and %(last)s") % {"items": ", ".join(names[:-1]), "last": names[-1]}
    else:
        names = "".join(names)
    agreement = couple["agreement"]
    if couple["ended_at"]:
        heading = _("## Agreement between %(names)s (archived on %(day)s)") % {
            "names": names,
            "day": _day(couple["ended_at"]),
        }
    else:
        heading = _("## Agreement between %(names)s (current)") % {"names": names}
    lines = [heading, ""]
    if agreement is None:
        return [*lines, _("No agreement."), ""]
    in_force = [r for r in agreement["rules"] if r["state"] == Rule.State.ACTIVE]
    lines += [_("### Rules in force"), ""]
    if not in_force:
        lines += [_("No rule is in force."), ""]
    # Each rule keeps the number the app shows it with, for life (numbers of rules not in force
    # are missing here, as on the printable page); a bullet, so no reader renumbers the list.
    for rule in in_force:
        version = _find_version(rule, rule["current_version_id"])
        named = {
            "number": rule["position"],
            "title": _md(version["title"]) or _("Rule"),
            "since": _day(rule["in_force_since"]),
            "review": _day(rule.get("review_at")),
        }
        if rule.get("review_at"):
            line = _("- **%(number)s. %(title)s** (in force since %(since)s; Review on %(review)s)")
        else:
            line = _("- **%(number)s. %(title)s** (in force since %(since)s)")
        lines += [
            line % named,
            "",
            *_quote(version["text"], indent="   "),
            "",
        ]
    lines += [_("### Every rule and its versions"), ""]
    for rule in agreement["rules"]:
        latest = _find_version(rule, rule["latest_version_id"]) or rule["versions"][-1]
        lines += [
            f"#### {rule['position']}. {_md(latest['title']) or _('Rule')} "
            f"({rule['state_label'].lower()})",
            "",
        ]
        for version in rule["versions"]:
            author = _md(version["author"]) if version["author"] else "Rules of the Road"
            title = [f"> **{_md(version['title'])}**", ">"] if version["title"] else []
            lines += [
                _("Version %(number)s, %(when)s, by %(author)s:")
                % {
                    "number": version["number"],
                    "when": _when(version["created_at"]),
                    "author": author,
                },
                "",
                *title,
                *([str(REMOVED)] if version.get("removed") else _quote(version["text"])),
                "",
            ]
            for acceptance in version["acceptances"]:
                named = {
                    "name": _md(acceptance["partner"]),
                    "when": _when(acceptance["created_at"]),
                    "withdrawn": _when(acceptance["withdrawn_at"]),
                }
                if acceptance["withdrawn_at"]:
                    line = _("- Accepted by %(name)s %(when)s, withdrawn %(withdrawn)s") % named
                else:
                    line = _("- Accepted by %(name)s %(when)s") % named
                lines.append(line)
            if version["acceptances"]:
                lines.append("")
    if agreement["comments"]:
        lines += [_("### Comments"), ""]
        for comment in agreement["comments"]:
            lines += [
                f"{_md(comment['by'])}, {_when(comment['created_at'])}:",
                "",
                *([str(REMOVED)] if comment["removed"] else _quote(comment["text"])),
                "",
            ]
    if agreement["therapist_accesses"]:
        lines += [_("### Therapist access"), ""]
        for access in agreement["therapist_accesses"]:
            therapist = _md(access["therapist"]) if access["therapist"] else _("A therapist")
            if access["email"]:
                therapist = f"{therapist} ({_md(access['email'])})"
            lines.append(
                _("- %(therapist)s: %(status)s, sharing %(scope)s, asked by %(name)s %(when)s")
                % {
                    "therapist": therapist,
                    "status": access["status"],
                    "scope": access["scope"],
                    "name": _md(access["requested_by"]),
                    "when": _when(access["requested_at"]),
                }
            )
        lines.append("")
    if agreement["suggestions"]:
        lines += [_("### Suggestions from a therapist"), ""]
        for suggestion in agreement["suggestions"]:
            lines += [
                _("- %(therapist)s suggested “%(title)s” %(when)s: %(status)s")
                % {
                    "therapist": _md(suggestion["therapist"]),
                    "title": _md(suggestion["title"]) or _("a rule"),
                    "when": _when(suggestion["created_at"]),
                    "status": suggestion["status"].replace("_", " "),
                },
                *_quote(suggestion["text"], indent="  "),
            ]
        lines.append("")
    lines += before_timeline
    lines += [_("### Timeline"), ""]
    for event in agreement["events"]:
        line = f"- {_when(event['created_at'])}: {_md(event['by'])}: {event['description'].lower()}"
        lines.append(line)
        if event["note_removed"]:
            lines.append(f"  {REMOVED}")
        elif event["note"]:
            lines += _quote(event["note"], indent="  ")
    lines.append("")
    return lines


def _find_version(rule: dict, version_id: int | None) -> dict | None:
    return next((v for v in rule["versions"] if v["id"] == version_id), None)


# What people write never shapes the export: every value is escaped so that Markdown reads it as
# plain text. Inline: the characters of emphasis, code, links, HTML, entities, tables and
# headings. At the start of a line: list numbers and bullets, setext underlines, indentation.
INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>&!~|#{}])")
LIST_NUMBER = re.compile(r"^(\d+)([.)])")
LINE_START_SPECIAL = ("-", "+", "=", ":")


def _escape_line(line: str) -> str:
    indent = len(line) - len(line.lstrip(" \t"))
    # Leading spaces would make an indented code block: kept as no-break spaces.
    line = "\u00a0" * indent + line[indent:]
    line = INLINE_SPECIAL.sub(r"\\\1", line)
    line = LIST_NUMBER.sub(r"\1\\\2", line)
    if line.startswith(LINE_START_SPECIAL):
        line = "\\" + line
    return line


def _md(value: str | None) -> str:
    """A value people wrote (a name, a title, an email address), as one line of plain text."""
    return _escape_line(one_line(value or ""))


def _quote(text: str, indent: str = "") -> list[str]:
    return [f"{indent}> {_escape_line(line)}".rstrip() for line in text.splitlines()] or [
        f"{indent}>"
    ]


def _when(value: str | None) -> str:
    """In the reader's time zone (the one active for the request: theirs)."""
    if value is None:
        return _("never")
    return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")


def _day(value: str | None) -> str:
    if value is None:
        return "-"
    return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d")
