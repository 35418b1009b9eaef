"""Read models of the ledger: a rule's history and the agreement-wide timeline, told in plain
sentences grouped by day ("Tuesday 1 December: Sam proposed new wording for rule 7 …").

Rule numbers are the rules' permanent positions. What a viewer may not see (the other
partner's sealed answer, `Event.objects.visible_to`) is left out before anything is counted,
grouped or paged, so that it changes nothing the viewer can observe."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.models import Agreement, Comment, Event, Rule, RuleVersion
from agreements.pages.agreement import home_url

Kind = Event.Kind
# Days of the timeline on one page, and lines of a day shown before "Earlier that day": a phone
# shows a day in about one screen, the rest of a busy day one tap away (a <details>, no script).
DAYS_PER_PAGE = 7
LINES_PER_DAY = 8
# Kinds whose events by one person in a row are told in one sentence ("You accepted rules 1, 2
# and 3"): on the first day a couple accepts the nine defaults, that is 2 lines instead of 27.
GROUPED = {Kind.ACCEPTED, Kind.ARCHIVED, Kind.WITHDREW}  # Pause everything: one line

STATE_WORDS = {
    Rule.State.ACTIVE: "In force",
    Rule.State.PROPOSED: "Proposed, not in force yet",
    Rule.State.PAUSED: "Resting: not in force",
    Rule.State.DECLINED: "Not agreed",
    Rule.State.ARCHIVED: "Archived",
}


@dataclass
class Line:
    """One sentence of the ledger. `text` ends with a full stop, or with a colon when the note
    (the person's own words) follows."""

    text: str
    at: datetime
    note: str = ""
    # The note's author removed their words: "removed by its author" is shown in its place.
    note_removed: bool = False
    wording: RuleVersion | None = None  # a proposal's wording, shown in full (history)
    diff: list[Segment] | None = None  # a proposed change, against the wording it would replace


@dataclass
class Day:
    date: date
    label: str
    lines: list[Line] = field(default_factory=list)

    @property
    def earlier(self) -> list[Line]:
        """The first lines of a busy day, folded away."""
        return self.lines[: max(0, len(self.lines) - LINES_PER_DAY)]

    @property
    def latest(self) -> list[Line]:
        return self.lines[len(self.earlier) :]


# -- words ----------------------------------------------------------------------------------------


def _by_this_therapist(event: Event | Comment, viewer: Viewer) -> bool:
    return (
        viewer.is_therapist
        and event.partner_id is None
        and event.therapist_id is not None
        and event.therapist_id == viewer.therapist_access.therapist_id
    )


def who(event: Event | Comment, viewer: Viewer) -> str:
    if event.partner_id and event.partner_id == viewer.seat_id:
        return "You"
    if _by_this_therapist(event, viewer):
        return _("You")
    if isinstance(event, Comment):
        return capfirst(event.author_name)
    return capfirst(event.actor_name)


def rule_words(rule: Rule | None, version: RuleVersion | None) -> str:
    """“rule 7 “Our own definition of sex””: the permanent number and the title."""
    if rule is None:
        return "a rule"
    title = (version.title if version else "") or rule.latest_version.title
    return f"rule {rule.position} “{title}”" if title else f"rule {rule.position}"


def list_words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def day_label(day: date, today: date) -> str:
    label = f"{day:%A} {day.day} {day:%B}"
    return label if day.year == today.year else f"{label} {day.year}"


def _grouped_rules(events: list[Event]) -> str:
    """“rule 1 “A”, rule 2 “B” and rule 3 “C”” (or “rules 1 and 2” without titles)."""
    return list_words([rule_words(e.rule, e.version) for e in events])


def sentence(event: Event, viewer: Viewer, *, in_force: bool = False) -> str:
    """What happened, in the product's words, without its final punctuation. `in_force`: the
    acceptance that brought the rule into force (the two are told together)."""
    actor = who(event, viewer)
    rule = rule_words(event.rule, event.version)
    is_change = event.version is not None and event.version.number > 1
    if viewer.is_therapist:
        told = _for_the_therapist(event, actor, rule)
        if told:
            return told
    match event.kind:
        case Kind.CREATED:
            both = "both partners accept" if viewer.is_therapist else "you both accept"
            return f"The agreement started with nine proposed rules, none in force until {both} it"
        case Kind.PROPOSED_RULE:
            return f"{actor} proposed a new rule, {rule}"
        case Kind.PROPOSED_CHANGE:
            return f"{actor} proposed new wording for {rule}"
        case Kind.ACCEPTED:
            text = f"{actor} accepted {'the new wording for ' if is_change else ''}{rule}"
            return f"{text}, so it is now in force" if in_force else text
        case Kind.IN_FORCE:
            return f"{capfirst(rule)} came into force"
        case Kind.NOT_YET:
            return f"{actor} said not yet to {'the new wording for ' if is_change else ''}{rule}"
        case Kind.DECLINED:
            return f"{actor} declined {'the new wording for ' if is_change else ''}{rule}"
        case Kind.WITHDREW:
            return f"{actor} withdrew consent from {rule}: it rests, not in force"
        case Kind.ARCHIVED:
            return f"{actor} archived {rule}"
        case Kind.RESTORED:
            return f"{actor} brought back {rule} as a proposal"
        case Kind.TOOK_BACK:
            return f"{actor} took back the proposal for {rule}"
        case Kind.REOPENED:
            return f"{actor} reopened {rule}, proposing the wording you had agreed"
        case Kind.PARTNERSHIP_ENDED:
            return f"{actor} ended the partnership"
        case Kind.SUGGESTED_RULE:
            return f"{actor} suggested a new rule"
        case Kind.SUGGESTED_WORDING:
            return f"{actor} suggested new wording for {rule}"
        case Kind.SUGGESTION_ADOPTED:
            return f"{actor} adopted {therapist_words(event)}'s suggestion as a proposal: {rule}"
        case Kind.SUGGESTION_SET_ASIDE:
            about = f" for {rule}" if event.rule_id else ""
            named = suggestion_words(event.suggestion) if event.suggestion_id else ""
            return f"{actor} set aside {therapist_words(event)}'s suggestion{named}{about}"
        case Kind.CHECKIN_INVITED:
            whom = "the couple" if viewer.is_therapist else "you both"
            about = f" about {rule}" if event.rule_id else ""
            return f"{actor} invited {whom} to a check-in{about}"
        case Kind.EXERCISE_STARTED:
            return f"{actor} started the check-in {therapist_words(event)} suggested"
        case Kind.SCOPE_WIDEN_ASKED:
            return f"{actor} asked to share your history with {therapist_words(event)} too"
        case Kind.SCOPE_WIDENED:
            return f"{actor} agreed to share your history with {therapist_words(event)}"
        case Kind.SCOPE_NARROWED:
            return f"{actor} limited {therapist_words(event)}'s access to the rules"
        case Kind.CHECKIN_REVEALED:
            return "Check-in revealed"
        case Kind.WORDS_REMOVED:
            if actor == "You":
                return _("You removed your own words from this archive")
            return _("%(name)s removed their own words from this archive") % {"name": actor}
        case Kind.KEEP_ANSWER:
            return _("%(actor)s said keep it to %(rule)s at its review") % {
                "actor": actor,
                "rule": rule,
            }
        case Kind.KEPT:
            both = _("Both partners") if viewer.is_therapist else _("You both")
            return _("%(both)s kept %(rule)s at its review: it stays in force") % {
                "both": both,
                "rule": rule,
            }
        case Kind.LET_REST:
            return _("%(actor)s let %(rule)s rest at its review: it rests, not in force") % {
                "actor": actor,
                "rule": rule,
            }
        case Kind.CHANGED_AT_REVIEW:
            return _("%(actor)s proposed new wording for %(rule)s at its review") % {
                "actor": actor,
                "rule": rule,
            }
        case Kind.LAPSED:
            either = _("either partner") if viewer.is_therapist else _("either of you")
            return _(
                "%(rule)s rested by itself: nobody answered its review within two weeks, and "
                "%(either)s can reopen it"
            ) % {"rule": capfirst(rule), "either": either}
    # Therapist access, and kinds this module does not know by name: their label reads as a verb.
    label = event.get_kind_display()
    verb = label[:1].lower() + label[1:]
    return f"{actor} {verb} {rule}" if event.rule_id else f"{actor} {verb}"


def _for_the_therapist(event: Event, actor: str, rule: str) -> str:
    """The sentences that read differently to the therapist they are about: written to them
    ("your suggestion", "gave you access"), never to the couple ("you had agreed")."""
    named = {"actor": actor, "rule": rule}
    match event.kind:
        case Kind.REOPENED:
            return _("%(actor)s reopened %(rule)s, proposing the wording they had agreed") % named
        case Kind.SUGGESTION_ADOPTED:
            return _("%(actor)s adopted your suggestion as a proposal: %(rule)s") % named
        case Kind.SUGGESTION_SET_ASIDE:
            which = suggestion_words(event.suggestion) if event.suggestion_id else ""
            about = _(" for %(rule)s") % named if event.rule_id else ""
            return _("%(actor)s set aside your suggestion%(which)s%(about)s") % {
                **named,
                "which": which,
                "about": about,
            }
        case Kind.EXERCISE_STARTED:
            return _("%(actor)s started the check-in you suggested") % named
        case Kind.ACCESS_GRANTED:
            return _("%(actor)s agreed too, and your access began") % named
        case Kind.SCOPE_WIDENED:
            return _("%(actor)s agreed too: they share their history with you") % named
        case Kind.SCOPE_NARROWED:
            return _("%(actor)s limited your access to the rules") % named
    return ""


def suggestion_words(suggestion) -> str:
    """“Slow Sundays”, or the first words of an untitled one: which suggestion it was."""
    if suggestion.title:
        return f" “{suggestion.title}”"
    words = suggestion.text.split()
    return f" “{' '.join(words[:8])}{'…' if len(words) > 8 else ''}”"


def therapist_words(event: Event) -> str:
    return event.therapist.display_name if event.therapist_id else "a former therapist"


def comment_sentence(comment: Comment, viewer: Viewer) -> str:
    where = rule_words(comment.rule, None) if comment.rule_id else "the whole agreement"
    return f"{who(comment, viewer)} commented on {where}"


def _line(text: str, at: datetime, note: str = "", note_removed: bool = False, **extra) -> Line:
    said = bool(note) or note_removed
    return Line(
        text=text + (":" if said else "."), at=at, note=note, note_removed=note_removed, **extra
    )


def tell(items: list[Event | Comment], viewer: Viewer, *, wordings: bool = False) -> list[Line]:
    """Events and comments, oldest first, as lines. An acceptance and the coming into force it
    caused are one line; acceptances (and archivings) by one person in a row are one line.
    `wordings`: proposals carry their wording (the rule's history shows it)."""
    lines: list[Line] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Comment):
            lines.append(
                _line(comment_sentence(item, viewer), item.created_at, item.text, item.removed)
            )
            i += 1
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        if (
            item.kind == Kind.ACCEPTED
            and isinstance(nxt, Event)
            and nxt.kind == Kind.IN_FORCE
            and nxt.rule_id == item.rule_id
        ):
            lines.append(
                _line(
                    sentence(item, viewer, in_force=True),
                    item.created_at,
                    item.note,
                    item.note_removed,
                )
            )
            i += 2
            continue
        if item.kind in GROUPED and not item.note and not item.note_removed:
            run = [item]
            j = i + 1
            while j < len(items):
                other = items[j]
                if not (
                    isinstance(other, Event)
                    and other.kind == item.kind
                    and other.partner_id == item.partner_id
                    and other.therapist_id == item.therapist_id
                    and not other.note
                    and not other.note_removed
                ):
                    break
                after = items[j + 1] if j + 1 < len(items) else None
                if isinstance(after, Event) and after.kind == Kind.IN_FORCE:
                    break  # told as "…, so it is now in force" on its own line
                run.append(other)
                j += 1
            if len(run) > 1:
                verb = {Kind.ACCEPTED: "accepted", Kind.ARCHIVED: "archived"}.get(
                    item.kind, "withdrew consent from"
                )
                text = f"{who(item, viewer)} {verb} {_grouped_rules(run)}"
                if item.kind == Kind.WITHDREW:
                    text += ": they rest, not in force"
                lines.append(_line(text, item.created_at))
                i = j
                continue
        extra = {}
        proposing = (Kind.PROPOSED_RULE, Kind.PROPOSED_CHANGE, Kind.CHANGED_AT_REVIEW)
        if wordings and item.kind in (*proposing, Kind.RESTORED):
            version = item.version
            extra["wording"] = version
            if item.kind != Kind.PROPOSED_RULE and item.kind in proposing and version.previous_id:
                extra["diff"] = word_diff(version.previous.text, version.text)
        lines.append(
            _line(sentence(item, viewer), item.created_at, item.note, item.note_removed, **extra)
        )
        i += 1
    return lines


def by_day(items: list[Event | Comment], viewer: Viewer, **options) -> list[Day]:
    """Newest day first; within a day, in the order things happened (it reads as a story)."""
    today = timezone.localdate()
    days: dict[date, list] = {}
    for item in sorted(items, key=lambda x: (x.created_at, x.pk, isinstance(x, Comment))):
        days.setdefault(timezone.localtime(item.created_at).date(), []).append(item)
    return [
        Day(date=d, label=day_label(d, today), lines=tell(days[d], viewer, **options))
        for d in sorted(days, reverse=True)
    ]


# -- queries --------------------------------------------------------------------------------------


def _events(queryset: QuerySet, viewer: Viewer) -> QuerySet:
    """The events this viewer may read: never someone else's sealed answer."""
    if viewer.is_therapist:
        # A therapist (here only when the couple shares their history) reads what the statement
        # lists, as the ledger decides for every therapist reader (seen_by_therapist).
        queryset = queryset.seen_through(viewer.therapist_access)
    else:
        queryset = queryset.visible_to(viewer.seat_id)
    return queryset.exclude(kind=Kind.COMMENTED).select_related(
        "partner__user", "therapist", "rule__latest_version", "version", "suggestion"
    )


def _comments(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("partner__user", "therapist", "rule__latest_version")


def _days_of(*querysets: QuerySet) -> list[date]:
    """Every day on which something the viewer may see happened, newest first."""
    days: set[date] = set()
    for queryset in querysets:
        for at in queryset.values_list("created_at", flat=True).iterator():
            days.add(timezone.localtime(at).date())
    return sorted(days, reverse=True)


# -- pages ----------------------------------------------------------------------------------------


def history_page(rule: Rule, viewer: Viewer) -> dict:
    """One rule from its first proposal to now: the wording in force in full, then every day."""
    events = list(_events(rule.events.all(), viewer).select_related("version__previous"))
    comments = list(_comments(rule.comments.all()))
    return {
        "rule": rule,
        "number": rule.position,
        "title": rule.shown_version.title,
        "state_words": state_words(rule),
        "in_force": rule.current_version,
        "waiting": rule.pending_version,
        "waiting_diff": (
            word_diff(rule.current_version.text, rule.pending_version.text)
            if rule.current_version and rule.pending_version
            else None
        ),
        "days": by_day(events + comments, viewer, wordings=True),
        "viewer": viewer,
        "back_url": f"{home_url(rule.agreement, viewer)}#rule-{rule.pk}",
    }


def state_words(rule: Rule) -> str:
    if rule.has_pending_change:
        return "In force, with new wording proposed"
    return STATE_WORDS.get(rule.state, capfirst(rule.get_state_display()))


def timeline_page(agreement: Agreement, viewer: Viewer, page: object = 1) -> dict:
    """The whole agreement, a few days a page (newest first), with links to earlier days."""
    events = _events(agreement.events.all(), viewer)
    comments = _comments(agreement.comments.all())
    days = _days_of(events, comments)
    pages = max(1, -(-len(days) // DAYS_PER_PAGE))
    try:
        number = min(max(1, int(page)), pages)
    except (TypeError, ValueError):
        number = 1
    shown = days[(number - 1) * DAYS_PER_PAGE : number * DAYS_PER_PAGE]
    items: list[Event | Comment] = []
    if shown:
        items = [
            item
            for queryset in (events, comments)
            for item in _in_range(queryset, shown[-1], shown[0])
            if timezone.localtime(item.created_at).date() in shown
        ]
    return {
        "agreement": agreement,
        "days": by_day(items, viewer),
        "page": number,
        "pages": pages,
        "earlier": number + 1 if number < pages else None,
        "later": number - 1 if number > 1 else None,
        "viewer": viewer,
        "back_url": home_url(agreement, viewer),
    }


def _in_range(queryset: QuerySet, first: date, last: date) -> list:
    """Everything from the start of local day `first` to the end of local day `last`."""
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    end = timezone.make_aware(datetime.combine(last, datetime.max.time()))
    return list(queryset.filter(created_at__gte=start, created_at__lte=end))


# What the page lists at most; the timeline has the rest.
NEWS_LINES = 8


def since_last_visit(agreement: Agreement, viewer: Viewer, previous_visit) -> list[Line]:
    """What the other partner did since this viewer's previous visit, as lines: proposals, not
    yet, declines, withdrawals, archives, rules that came into force, comments. Acceptances are
    left out: blind until answered, and a rule coming into force says it anyway. One query, and
    none on a first visit."""
    if previous_visit is None:
        return []
    events = (
        agreement.events.visible_to(viewer.seat_id)
        .filter(created_at__gt=previous_visit)
        .exclude(kind__in=[Kind.ACCEPTED, Kind.COMMENTED])
        .exclude(partner_id=viewer.seat_id, kind__in=[k for k in Kind if k != Kind.IN_FORCE])
        .select_related(
            "partner__user", "therapist", "rule__latest_version", "version", "suggestion"
        )
        .order_by("created_at", "pk")
    )
    return tell(list(events[: NEWS_LINES + 1]), viewer)[:NEWS_LINES]
