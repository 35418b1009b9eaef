"""Read models of the ledger: a rule's history and the agreement-wide timeline, told in plain
sentences grouped by day ("Tuesday 1 December: Sam proposed new wording for rule 7 …").

Rule numbers are the rules' permanent positions. What a viewer may not see (the other
partner's sealed answer, `Event.objects.visible_to`) is left out before anything is counted,
grouped or paged, so that it changes nothing the viewer can observe."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from agreements.access import Viewer
from agreements.diff import Segment, word_diff
from agreements.models import Agreement, Comment, Event, Rule, RuleVersion
from agreements.pages.agreement import home_url
from intimacy.bidi import fill, isolate, join, upper_first

Kind = Event.Kind
# Days of the timeline on one page, and lines of a day shown before "Earlier that day": a phone
# shows a day in about one screen, the rest of a busy day one tap away (a <details>, no script).
DAYS_PER_PAGE = 7
LINES_PER_DAY = 8
# Kinds whose events by one person in a row are told in one sentence ("You accepted rules 1, 2
# and 3"): on the first day a couple accepts the nine defaults, that is 2 lines instead of 27.
GROUPED = {Kind.ACCEPTED, Kind.ARCHIVED, Kind.WITHDREW}  # Pause everything: one line

STATE_WORDS = {
    Rule.State.ACTIVE: gettext_lazy("In force"),
    Rule.State.PROPOSED: gettext_lazy("Proposed, not in force yet"),
    Rule.State.PAUSED: gettext_lazy("Resting: not in force"),
    Rule.State.DECLINED: gettext_lazy("Not agreed"),
    Rule.State.ARCHIVED: gettext_lazy("Archived"),
}


@dataclass
class Line:
    """One sentence of the ledger. `text` ends with a full stop, or with a colon when the note
    (the person's own words) follows. It is markup: the names and titles in it are isolated
    (intimacy/bidi.py), so that they keep their own direction in any language."""

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


def is_viewer(event: Event | Comment, viewer: Viewer) -> bool:
    """Whether the viewer did it: the sentence is then told with "You" (its own grammar in
    every language, so each sentence has a "You" form and a named form)."""
    return bool(
        (event.partner_id and event.partner_id == viewer.seat_id)
        or _by_this_therapist(event, viewer)
    )


def who(event: Event | Comment, viewer: Viewer) -> str:
    if is_viewer(event, viewer):
        return _("You")
    if isinstance(event, Comment):
        return isolate(capfirst(event.author_name))
    return isolate(capfirst(event.actor_name))


def rule_words(rule: Rule | None, version: RuleVersion | None) -> str:
    """“rule 7 “Our own definition of sex””: the permanent number and the title."""
    if rule is None:
        return _("a rule")
    title = (version.title if version else "") or rule.latest_version.title
    if title:
        return fill(
            _("rule %(number)s “%(title)s”"), {"number": rule.position, "title": isolate(title)}
        )
    return _("rule %(number)s") % {"number": rule.position}


def list_words(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return fill(
        _("%(items)s and %(last)s"),
        {
            "items": join(items[:-1]),
            "last": items[-1],
        },
    )


def day_label(day: date, today: date) -> str:
    # Date formats are translated like any string ("Monday 7 December", "lunes 7 de diciembre").
    if day.year == today.year:
        return formats.date_format(day, pgettext("timeline day", "l j F"))
    return formats.date_format(day, pgettext("timeline day of another year", "l j F Y"))


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
    you = is_viewer(event, viewer)
    named = {"actor": actor, "rule": rule}

    def told(yours: str, theirs: str) -> str:
        return fill(yours if you else theirs, named)

    match event.kind:
        case Kind.CREATED:
            if viewer.is_therapist:
                return _(
                    "The agreement started with nine proposed rules, none in force until both "
                    "partners accept it"
                )
            return _(
                "The agreement started with nine proposed rules, none in force until you both "
                "accept it"
            )
        case Kind.ACCEPTED if is_change and in_force:
            return told(
                _("You accepted the new wording for %(rule)s, so it is now in force"),
                _("%(actor)s accepted the new wording for %(rule)s, so it is now in force"),
            )
        case Kind.ACCEPTED if is_change:
            return told(
                _("You accepted the new wording for %(rule)s"),
                _("%(actor)s accepted the new wording for %(rule)s"),
            )
        case Kind.ACCEPTED if in_force:
            return told(
                _("You accepted %(rule)s, so it is now in force"),
                _("%(actor)s accepted %(rule)s, so it is now in force"),
            )
        case Kind.ACCEPTED:
            return told(_("You accepted %(rule)s"), _("%(actor)s accepted %(rule)s"))
        case Kind.IN_FORCE:
            return fill(_("%(rule)s came into force"), {"rule": upper_first(rule)})
        case Kind.NOT_YET if is_change:
            return told(
                _("You said not yet to the new wording for %(rule)s"),
                _("%(actor)s said not yet to the new wording for %(rule)s"),
            )
        case Kind.NOT_YET:
            return told(_("You said not yet to %(rule)s"), _("%(actor)s said not yet to %(rule)s"))
        case Kind.DECLINED if is_change:
            return told(
                _("You declined the new wording for %(rule)s"),
                _("%(actor)s declined the new wording for %(rule)s"),
            )
        case Kind.DECLINED:
            return told(_("You declined %(rule)s"), _("%(actor)s declined %(rule)s"))
        case Kind.SUGGESTION_SET_ASIDE:
            named["therapist"] = therapist_words(event)
            named["which"] = suggestion_words(event.suggestion) if event.suggestion_id else ""
            if event.rule_id:
                return told(
                    _("You set aside %(therapist)s's suggestion%(which)s for %(rule)s"),
                    _("%(actor)s set aside %(therapist)s's suggestion%(which)s for %(rule)s"),
                )
            return told(
                _("You set aside %(therapist)s's suggestion%(which)s"),
                _("%(actor)s set aside %(therapist)s's suggestion%(which)s"),
            )
        case Kind.CHECKIN_INVITED if viewer.is_therapist and event.rule_id:
            return told(
                _("You invited the couple to a check-in about %(rule)s"),
                _("%(actor)s invited the couple to a check-in about %(rule)s"),
            )
        case Kind.CHECKIN_INVITED if viewer.is_therapist:
            return told(
                _("You invited the couple to a check-in"),
                _("%(actor)s invited the couple to a check-in"),
            )
        case Kind.CHECKIN_INVITED if event.rule_id:
            return fill(_("%(actor)s invited you both to a check-in about %(rule)s"), named)
        case Kind.CHECKIN_INVITED:
            return fill(_("%(actor)s invited you both to a check-in"), named)
        case Kind.CHECKIN_REVEALED:
            return _("Check-in revealed")
        case Kind.WORDS_REMOVED:
            if you:
                return _("You removed your own words from this archive")
            return fill(_("%(name)s removed their own words from this archive"), {"name": actor})
        case Kind.KEEP_ANSWER:
            return fill(
                _("%(actor)s said keep it to %(rule)s at its review"),
                {"actor": actor, "rule": rule},
            )
        case Kind.KEPT:
            both = _("Both partners") if viewer.is_therapist else _("You both")
            return fill(
                _("%(both)s kept %(rule)s at its review: it stays in force"),
                {"both": both, "rule": rule},
            )
        case Kind.LET_REST:
            return fill(
                _("%(actor)s let %(rule)s rest at its review: it rests, not in force"),
                {"actor": actor, "rule": rule},
            )
        case Kind.CHANGED_AT_REVIEW:
            return fill(
                _("%(actor)s proposed new wording for %(rule)s at its review"),
                {"actor": actor, "rule": rule},
            )
        case Kind.LAPSED:
            either = _("either partner") if viewer.is_therapist else _("either of you")
            return fill(
                _(
                    "%(rule)s rested by itself: nobody answered its review within two weeks, "
                    "and %(either)s can reopen it"
                ),
                {"rule": upper_first(rule), "either": either},
            )
    # The kinds told the same whichever rule and wording; others not known by name: their label
    # reads as a verb.
    if event.kind in TOLD:
        if event.kind in NAMES_THERAPIST:
            named["therapist"] = therapist_words(event)
        yours, theirs = TOLD[event.kind]
        return told(str(yours), str(theirs))
    label = event.get_kind_display()
    verb = label[:1].lower() + label[1:]
    return (
        format_html("{} {} {}", actor, verb, rule)
        if event.rule_id
        else format_html("{} {}", actor, verb)
    )


# The kinds told in one sentence to the one who did it and another to everyone else (those told
# differently by the wording or the reader have their own case in `sentence`): whole sentences, so
# that each language can conjugate "You" and a name apart.
TOLD = {
    Kind.PROPOSED_RULE: (
        gettext_lazy("You proposed a new rule, %(rule)s"),
        gettext_lazy("%(actor)s proposed a new rule, %(rule)s"),
    ),
    Kind.PROPOSED_CHANGE: (
        gettext_lazy("You proposed new wording for %(rule)s"),
        gettext_lazy("%(actor)s proposed new wording for %(rule)s"),
    ),
    Kind.WITHDREW: (
        gettext_lazy("You withdrew consent from %(rule)s: it rests, not in force"),
        gettext_lazy("%(actor)s withdrew consent from %(rule)s: it rests, not in force"),
    ),
    Kind.ARCHIVED: (
        gettext_lazy("You archived %(rule)s"),
        gettext_lazy("%(actor)s archived %(rule)s"),
    ),
    Kind.RESTORED: (
        gettext_lazy("You brought back %(rule)s as a proposal"),
        gettext_lazy("%(actor)s brought back %(rule)s as a proposal"),
    ),
    Kind.TOOK_BACK: (
        gettext_lazy("You took back the proposal for %(rule)s"),
        gettext_lazy("%(actor)s took back the proposal for %(rule)s"),
    ),
    Kind.REOPENED: (
        gettext_lazy("You reopened %(rule)s, proposing the wording you had agreed"),
        gettext_lazy("%(actor)s reopened %(rule)s, proposing the wording you had agreed"),
    ),
    Kind.PARTNERSHIP_ENDED: (
        gettext_lazy("You ended the partnership"),
        gettext_lazy("%(actor)s ended the partnership"),
    ),
    Kind.SUGGESTED_RULE: (
        gettext_lazy("You suggested a new rule"),
        gettext_lazy("%(actor)s suggested a new rule"),
    ),
    Kind.SUGGESTED_WORDING: (
        gettext_lazy("You suggested new wording for %(rule)s"),
        gettext_lazy("%(actor)s suggested new wording for %(rule)s"),
    ),
    Kind.SUGGESTION_ADOPTED: (
        gettext_lazy("You adopted %(therapist)s's suggestion as a proposal: %(rule)s"),
        gettext_lazy("%(actor)s adopted %(therapist)s's suggestion as a proposal: %(rule)s"),
    ),
    Kind.EXERCISE_STARTED: (
        gettext_lazy("You started the check-in %(therapist)s suggested"),
        gettext_lazy("%(actor)s started the check-in %(therapist)s suggested"),
    ),
    Kind.SCOPE_WIDEN_ASKED: (
        gettext_lazy("You asked to share your history with %(therapist)s too"),
        gettext_lazy("%(actor)s asked to share your history with %(therapist)s too"),
    ),
    Kind.SCOPE_WIDENED: (
        gettext_lazy("You agreed to share your history with %(therapist)s"),
        gettext_lazy("%(actor)s agreed to share your history with %(therapist)s"),
    ),
    Kind.SCOPE_NARROWED: (
        gettext_lazy("You limited %(therapist)s's access to the rules"),
        gettext_lazy("%(actor)s limited %(therapist)s's access to the rules"),
    ),
    Kind.ACCESS_REQUESTED: (
        gettext_lazy("You asked to give a therapist access"),
        gettext_lazy("%(actor)s asked to give a therapist access"),
    ),
    Kind.ACCESS_GRANTED: (
        gettext_lazy("You agreed to give a therapist access"),
        gettext_lazy("%(actor)s agreed to give a therapist access"),
    ),
    Kind.ACCESS_DECLINED: (
        gettext_lazy("You declined therapist access"),
        gettext_lazy("%(actor)s declined therapist access"),
    ),
    Kind.ACCESS_ENDED: (
        gettext_lazy("You ended therapist access"),
        gettext_lazy("%(actor)s ended therapist access"),
    ),
    Kind.PAUSED_EVERYTHING: (
        gettext_lazy("You paused everything"),
        gettext_lazy("%(actor)s paused everything"),
    ),
    Kind.REOPENED_ALL: (
        gettext_lazy("You reopened all the paused rules"),
        gettext_lazy("%(actor)s reopened all the paused rules"),
    ),
    Kind.SCOPE_KEPT: (
        gettext_lazy("You kept the therapist's access to the rules"),
        gettext_lazy("%(actor)s kept the therapist's access to the rules"),
    ),
}
# The kinds whose sentence names the therapist (%(therapist)s).
NAMES_THERAPIST = {
    Kind.SUGGESTION_ADOPTED,
    Kind.EXERCISE_STARTED,
    Kind.SCOPE_WIDEN_ASKED,
    Kind.SCOPE_WIDENED,
    Kind.SCOPE_NARROWED,
}


def _for_the_therapist(event: Event, actor: str, rule: str) -> str:
    """The sentences that read differently to the therapist they are about: written to them
    ("your suggestion", "gave you access"), never to the couple ("you had agreed")."""
    named = {"actor": actor, "rule": rule}
    match event.kind:
        case Kind.REOPENED:
            return fill(
                _("%(actor)s reopened %(rule)s, proposing the wording they had agreed"), named
            )
        case Kind.SUGGESTION_ADOPTED:
            return fill(_("%(actor)s adopted your suggestion as a proposal: %(rule)s"), named)
        case Kind.SUGGESTION_SET_ASIDE:
            which = suggestion_words(event.suggestion) if event.suggestion_id else ""
            about = fill(_(" for %(rule)s"), named) if event.rule_id else ""
            return fill(
                _("%(actor)s set aside your suggestion%(which)s%(about)s"),
                {**named, "which": which, "about": about},
            )
        case Kind.EXERCISE_STARTED:
            return fill(_("%(actor)s started the check-in you suggested"), named)
        case Kind.ACCESS_GRANTED:
            return fill(_("%(actor)s agreed too, and your access began"), named)
        case Kind.SCOPE_WIDENED:
            return fill(_("%(actor)s agreed too: they share their history with you"), named)
        case Kind.SCOPE_NARROWED:
            return fill(_("%(actor)s limited your access to the rules"), named)
    return ""


def suggestion_words(suggestion) -> str:
    """“Slow Sundays”, or the first words of an untitled one: which suggestion it was."""
    if suggestion.title:
        return format_html(" “{}”", isolate(suggestion.title))
    words = suggestion.text.split()
    return format_html(" “{}”", isolate(f"{' '.join(words[:8])}{'…' if len(words) > 8 else ''}"))


def therapist_words(event: Event) -> str:
    return isolate(event.therapist.display_name) if event.therapist_id else _("a former therapist")


def comment_sentence(comment: Comment, viewer: Viewer) -> str:
    named = {"actor": who(comment, viewer), "rule": rule_words(comment.rule, None)}
    you = is_viewer(comment, viewer)
    if comment.rule_id:
        return fill(
            _("You commented on %(rule)s") if you else _("%(actor)s commented on %(rule)s"), named
        )
    if you:
        return _("You commented on the whole agreement")
    return fill(_("%(actor)s commented on the whole agreement"), named)


def _line(text: str, at: datetime, note: str = "", note_removed: bool = False, **extra) -> Line:
    said = bool(note) or note_removed
    return Line(
        text=format_html("{}{}", text, ":" if said else "."),
        at=at,
        note=note,
        note_removed=note_removed,
        **extra,
    )


def _grouped_sentence(item: Event, run: list[Event], viewer: Viewer) -> str:
    """One person's acceptances, archivings or withdrawals in a row, told as one sentence."""
    named = {"actor": who(item, viewer), "rules": _grouped_rules(run)}
    you = is_viewer(item, viewer)
    if item.kind == Kind.ACCEPTED:
        yours, theirs = _("You accepted %(rules)s"), _("%(actor)s accepted %(rules)s")
    elif item.kind == Kind.ARCHIVED:
        yours, theirs = _("You archived %(rules)s"), _("%(actor)s archived %(rules)s")
    else:
        yours = _("You withdrew consent from %(rules)s: they rest, not in force")
        theirs = _("%(actor)s withdrew consent from %(rules)s: they rest, not in force")
    return fill(yours if you else theirs, named)


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
                text = _grouped_sentence(item, run, viewer)
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
        return _("In force, with new wording proposed")
    return str(STATE_WORDS.get(rule.state, capfirst(rule.get_state_display())))


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
