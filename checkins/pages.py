"""Read models for the check-in screens: the list (with the chart), one check-in, and what a
therapist may read. The one place that decides whose words a viewer gets: their own always, the
other partner's only once the check-in is revealed. Everything is read from the database for the
request that shows it, in a constant number of queries, and nothing here writes: a check-in the
clock has closed is shown closed (`CheckIn.status`), and closed in its row by a service later."""

import hashlib
from dataclasses import dataclass, field

from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Couple, Partner
from agreements import therapy
from agreements.models import Agreement, Rule, RuleVersion, with_own_wordings
from checkins.models import Answer, CheckIn
from intimacy.rows import Dates, address

REMOVED = gettext_lazy("removed by its author")

CHART_MINIMUM = 3


@dataclass
class Seen:
    """One answer as a viewer may see it: the words only when they may read them."""

    name: str
    is_you: bool
    state: str  # "not started", "writing", "sealed"
    answer: Answer | None = None  # set only when the viewer may read it


@dataclass
class CheckInView:
    checkin: CheckIn
    status: str  # "open", "revealed", "let go", "closed"
    mine: Answer | None
    people: list[Seen]
    can_write: bool
    can_answer: bool = False
    can_let_go: bool = False
    asks_for_care: bool = False
    care_rules: list[Rule] = field(default_factory=list)
    named_rules: list[Rule] = field(default_factory=list)
    waiting_for_you: bool = False
    shared_by_both: bool = False
    # A therapist can read the agreement now: "Share with our therapist" is offered only then.
    therapist_may_read: bool = False
    propose_url: str = ""
    etag: str = ""
    # In the list: the check-in's address and the day it started, as the viewer reads it.
    url: str = ""
    started_on: str = ""


# -- what a screen reads ---------------------------------------------------------------------------


def _answers() -> Prefetch:
    return Prefetch("answers", queryset=Answer.objects.order_by("pk"))


def with_answers_and_rules(checkins: list[CheckIn]) -> list[CheckIn]:
    """The answers and named rules of these check-ins, with each rule's own wording: three
    queries however many there are."""
    prefetch_related_objects(checkins, _answers(), "rules")
    with_own_wordings(rule for checkin in checkins for rule in checkin.rules.all())
    return checkins


# What an answer says in words: the list shows none of it, so it reads none of it (each word is
# decrypted when read).
WORDS = ("sensation", "emotion", "want", "reply")


def checkins_of(couple: Couple) -> list[CheckIn]:
    """The couple's check-ins, newest first, each with its answers without their words (and its
    couple: this one, not read again): what the list shows."""
    checkins = list(couple.checkins.order_by("-created_at", "-pk"))
    prefetch_related_objects(
        checkins, Prefetch("answers", queryset=Answer.objects.defer(*WORDS).order_by("pk"))
    )
    return checkins


def partners_of(couple_id: int) -> list[Partner]:
    return list(
        Partner.objects.filter(couple_id=couple_id)
        .select_related("user")
        .order_by("joined_at", "pk")
    )


def care_rule_for(checkins: list[CheckIn]) -> Rule | None:
    """Rule 1, read only when a revealed check-in among these asks for care."""
    cares = any(a.asks_for_care for c in checkins if c.is_revealed for a in c.answers.all())
    return _first_rule(checkins[0].couple_id) if cares else None


def _first_rule(couple_id: int) -> Rule | None:
    return (
        Rule.objects.filter(agreement__couple_id=couple_id, position=1)
        .select_related("current_version", "pending_version", "agreed_version", "latest_version")
        .first()
    )


# -- one check-in ----------------------------------------------------------------------------------


def _status(checkin: CheckIn, ended: bool) -> str:
    """The check-in's own status (the clock included), and an open one of a couple that ended
    reads as closed."""
    status = checkin.status
    return "closed" if status == "open" and ended else status


def _state(answer: Answer | None) -> str:
    if answer is None:
        return "not started"
    return "sealed" if answer.is_sealed else "writing"


def view_for_partner(
    checkin: CheckIn,
    seat: Partner,
    *,
    can_write: bool,
    partners: list[Partner],
    care_rule: Rule | None = None,
    in_list: bool = False,
) -> CheckInView:
    """What this partner sees of the check-in (its answers and rules read already): the other
    partner's answer only once the check-in is revealed. In the list (`in_list`), a line: who
    answered and the status, without what only the check-in's own page shows (the care note, the
    named rules, sharing, the proposal from one's Want, the poll's ETag)."""
    answers = {a.partner_id: a for a in checkin.answers.all()}
    status = _status(checkin, checkin.couple.ended_at is not None)
    mine = answers.get(seat.pk)
    people = []
    for partner in partners:
        answer = answers.get(partner.pk)
        readable = partner.pk == seat.pk or checkin.is_revealed
        people.append(
            Seen(
                name=partner.name,
                is_you=partner.pk == seat.pk,
                state=_state(answer),
                answer=answer if readable else None,
            )
        )
    view = CheckInView(
        checkin=checkin,
        status=status,
        mine=mine,
        people=people,
        can_write=can_write and status in ("open", "revealed"),
    )
    view.can_answer = can_write and status == "open"
    view.can_let_go = can_write and status == "open"
    view.waiting_for_you = status == "open" and (mine is None or not mine.is_sealed)
    if in_list:
        return view
    if checkin.is_revealed:
        _care(view, checkin, answers.values(), care_rule)
        view.shared_by_both = len(answers) == 2 and all(
            a.shared_with_therapist for a in answers.values()
        )
        if can_write and mine is not None and mine.want:
            view.propose_url = _propose_url(checkin)
    view.etag = _etag(view, answers.values())
    return view


def checkin_page(
    checkin: CheckIn, seat: Partner, partners: list[Partner], *, can_write: bool
) -> CheckInView:
    """One check-in as the gate found it, for this partner: its answers and named rules read
    now (and rule 1 when a revealed check-in asks for care)."""
    with_answers_and_rules([checkin])
    view = view_for_partner(
        checkin, seat, can_write=can_write, partners=partners, care_rule=care_rule_for([checkin])
    )
    if checkin.is_revealed and can_write:
        view.therapist_may_read = therapy.has_live_therapist(checkin.couple_id)
        view.etag = _etag(view, checkin.answers.all())
    return view


def view_for_therapist(checkin: CheckIn) -> CheckInView:
    """Only ever called for a revealed check-in both partners share (see checkins.access)."""
    with_answers_and_rules([checkin])
    answers = {a.partner_id: a for a in checkin.answers.all()}
    people = [
        Seen(name=p.name, is_you=False, state=_state(answers.get(p.pk)), answer=answers.get(p.pk))
        for p in partners_of(checkin.couple_id)
    ]
    view = CheckInView(
        checkin=checkin, status="revealed", mine=None, people=people, can_write=False
    )
    _care(view, checkin, answers.values(), care_rule_for([checkin]))
    return view


def _care(view: CheckInView, checkin: CheckIn, answers, care_rule: Rule | None) -> None:
    view.asks_for_care = any(a.asks_for_care for a in answers)
    view.named_rules = list(checkin.rules.all())
    if view.asks_for_care:
        view.care_rules = [care_rule] if care_rule else []
        view.care_rules += [r for r in view.named_rules if r not in view.care_rules]


def _propose_url(checkin: CheckIn) -> str:
    # Only the check-in's id travels: the Want itself stays out of URLs, logs and history.
    return reverse("checkins:propose", args=[checkin.pk])


def proposal_from(checkin: CheckIn, seat: Partner) -> dict | None:
    """The new-rule form's first draft from this partner's own Want, once the check-in is
    revealed; None when there is nothing of theirs to propose."""
    if checkin.revealed_at is None:
        return None
    mine = Answer.objects.filter(checkin=checkin, partner=seat).first()
    if mine is None or not mine.want:
        return None
    if checkin.topic:
        title = _("From our check-in: %(topic)s") % {"topic": checkin.topic}
    else:
        title = _("From our check-in")
    return {"title": title[:120], "text": mine.want}


def _etag(view: CheckInView, answers) -> str:
    """Changes whenever what any viewer sees of the check-in changes (never with the words): the
    status is in it, so a check-in the clock closed is a change though no row changed."""
    checkin = view.checkin
    stamps = [view.status, checkin.revealed_at, checkin.closed_at, checkin.touched_at]
    stamps += [(p.name, p.state) for p in view.people]
    stamps.append(view.therapist_may_read)
    for a in sorted(answers, key=lambda a: a.pk):
        stamps += [a.pk, a.sealed_at, a.replied_at, a.shared_with_therapist]
    digest = hashlib.sha256("|".join(str(s) for s in stamps).encode()).hexdigest()[:16]
    return f'"c{checkin.pk}-{digest}"'


# -- the list ------------------------------------------------------------------------------------


@dataclass
class Point:
    x: int
    y: int
    value: int
    label: str

    @property
    def corner_x(self) -> int:
        return self.x - 4

    @property
    def corner_y(self) -> int:
        return self.y - 4


@dataclass
class Series:
    name: str
    css: str
    points: list[Point]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


@dataclass
class Chart:
    width: int
    height: int
    series: list[Series]
    rows: list[dict]  # the same data as a table: when, and each partner's step
    names: list[str]
    levels: list[dict]
    labels: list[dict]  # "Wonderful" above the plot, "It hurt" below it: never on a point


# The plot sits between PAD_T and CHART_H - PAD_B; its labels have bands of their own above and
# below it, so that no point (drawn up to MARK px around its centre) ever covers one.
CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 320, 176, 16, 12, 24, 28
LABEL_SIZE, MARK = 10, 4


def chart(checkins: list[CheckIn], partners: list[Partner]) -> Chart | None:
    """Both partners' overall answers over time, oldest first; None below CHART_MINIMUM
    revealed check-ins with the overall step answered."""
    revealed = [
        c
        for c in sorted(checkins, key=lambda c: (c.revealed_at or c.created_at, c.pk))
        if c.is_revealed and any(a.overall for a in c.answers.all())
    ]
    if len(revealed) < CHART_MINIMUM:
        return None
    inner_w = CHART_W - PAD_L - PAD_R
    inner_h = CHART_H - PAD_T - PAD_B

    def x(i: int) -> int:
        return round(PAD_L + inner_w * i / max(len(revealed) - 1, 1))

    def y(value: int) -> int:
        return round(PAD_T + inner_h * (5 - value) / 4)

    series = []
    rows = [{"when": c.revealed_at, "topic": c.topic, "steps": []} for c in revealed]
    for n, partner in enumerate(partners[:2]):
        points = []
        for i, c in enumerate(revealed):
            answer = next((a for a in c.answers.all() if a.partner_id == partner.pk), None)
            value = answer.overall if answer else None
            if answer is not None and answer.removed:
                rows[i]["steps"].append(REMOVED)
            else:
                rows[i]["steps"].append(Answer.Overall(value).label if value else _("not answered"))
            if value:
                points.append(Point(x(i), y(value), value, Answer.Overall(value).label))
        series.append(Series(name=partner.name, css=f"series-{n + 1}", points=points))
    levels = [{"y": y(v), "label": Answer.Overall(v).label, "value": v} for v in range(1, 6)]
    labels = [
        # Baselines: the top label ends above the highest mark, the bottom one starts below the
        # lowest.
        {"text": Answer.Overall(5).label, "x": 2, "y": PAD_T - MARK - 4},
        {"text": _("It hurt"), "x": 2, "y": CHART_H - PAD_B + MARK + 4 + LABEL_SIZE},
    ]
    return Chart(
        width=CHART_W,
        height=CHART_H,
        series=series,
        rows=rows,
        names=[p.name for p in partners[:2]],
        levels=levels,
        labels=labels,
    )


@dataclass
class ListPage:
    views: list[CheckInView]
    open_view: CheckInView | None
    chart: Chart | None
    can_write: bool


def list_page(
    couple: Couple, seat: Partner, partners: list[Partner], *, can_write: bool
) -> ListPage:
    """The couple's check-ins as this partner sees them, newest first, with the chart."""
    checkins = checkins_of(couple)
    views = [
        view_for_partner(c, seat, can_write=can_write, partners=partners, in_list=True)
        for c in checkins
    ]
    dates = Dates()
    page = address("checkins:checkin")
    for view in views:
        view.url = page(view.checkin.pk)
        view.started_on = dates.day(view.checkin.created_at, _("j M Y"))
    found = chart(checkins, partners)
    if found is not None:
        for row in found.rows:
            row["day"] = dates.day(row["when"], _("j M Y"))
    return ListPage(
        views=views,
        open_view=next((v for v in views if v.status == "open"), None),
        chart=found,
        can_write=can_write,
    )


def rule_choices(agreement: Agreement) -> list[tuple[int, str]]:
    """The rules a new check-in may name."""
    rules = agreement.rules.exclude(state=Rule.State.ARCHIVED).in_order()
    titles = dict(  # titles only: no wording is decrypted
        RuleVersion.objects.filter(pk__in={r.wording_id for r in rules})
        .order_by()
        .values_list("pk", "title")
    )
    return [(r.pk, f"{r.number}. {titles.get(r.wording_id) or _('Rule')}") for r in rules]


def exercises_of(agreement: Agreement) -> list:
    """Check-ins a therapist invited the couple to, ready to start."""
    return list(therapy.pending_exercises(agreement))


# -- the line on other pages, and the therapist's list ---------------------------------------------


def waiting_for(seat: Partner) -> CheckIn | None:
    """The couple's check-in open now, if this partner has not sealed an answer to it yet (one
    query; on every partner page). One the clock has closed is not waiting."""
    return (
        CheckIn.objects.open_now()
        .filter(couple_id=seat.couple_id)
        .exclude(
            pk__in=Answer.objects.filter(partner=seat, sealed_at__isnull=False).values("checkin_id")
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def shared_with_therapist(couple: Couple) -> list[CheckIn]:
    """Revealed check-ins both partners share, newest first."""
    revealed = list(
        couple.checkins.filter(revealed_at__isnull=False)
        .prefetch_related(_answers())
        .order_by("-created_at", "-pk")
    )
    return [
        c
        for c in revealed
        if len(c.answers.all()) == 2 and all(a.shared_with_therapist for a in c.answers.all())
    ]
