"""Read models for the check-in screens: the list (with the chart), one check-in, and what a
therapist may read. The one place that decides whose words a viewer gets: their own always, the
other partner's only once the check-in is revealed."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from accounts.models import Partner
from agreements import therapy
from agreements.models import Agreement, Rule
from checkins import services
from checkins.models import Answer, CheckIn

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
    propose_url: str = ""
    etag: str = ""


def _answers_prefetch() -> Prefetch:
    return Prefetch(
        "answers", queryset=Answer.objects.select_related("partner__user").order_by("pk")
    )


def checkins_of(couple_id: int):
    return (
        CheckIn.objects.filter(couple_id=couple_id)
        .prefetch_related(_answers_prefetch(), "rules__current_version", "rules__latest_version")
        .order_by("-created_at", "-pk")
    )


def _status(checkin: CheckIn, ended: bool) -> str:
    if checkin.is_revealed:
        return "revealed"
    if checkin.is_closed:
        return "let go" if checkin.let_go_by_id else "closed"
    return "closed" if ended else "open"


def _state(answer: Answer | None) -> str:
    if answer is None:
        return "not started"
    return "sealed" if answer.is_sealed else "writing"


def _partners(couple_id: int) -> list[Partner]:
    return list(
        Partner.objects.filter(couple_id=couple_id)
        .select_related("user")
        .order_by("joined_at", "pk")
    )


def view_for_partner(
    checkin: CheckIn, seat: Partner, *, can_write: bool, partners: list[Partner] | None = None
) -> CheckInView:
    partners = partners if partners is not None else _partners(checkin.couple_id)
    answers = {a.partner_id: a for a in checkin.answers.all()}
    ended = checkin.couple.ended_at is not None
    status = _status(checkin, ended)
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
    if checkin.is_revealed:
        _care(view, checkin, answers.values())
        view.shared_by_both = len(answers) == 2 and all(
            a.shared_with_therapist for a in answers.values()
        )
        if can_write and mine is not None and mine.want:
            view.propose_url = _propose_url(checkin, mine)
    view.etag = _etag(checkin, answers.values())
    return view


def view_for_therapist(checkin: CheckIn) -> CheckInView:
    """Only ever called for a revealed check-in both partners share (see access)."""
    partners = list(checkin.couple.partners.select_related("user").order_by("joined_at", "pk"))
    answers = {a.partner_id: a for a in checkin.answers.all()}
    people = [
        Seen(name=p.name, is_you=False, state=_state(answers.get(p.pk)), answer=answers.get(p.pk))
        for p in partners
    ]
    view = CheckInView(
        checkin=checkin, status="revealed", mine=None, people=people, can_write=False
    )
    _care(view, checkin, answers.values())
    return view


def _care(view: CheckInView, checkin: CheckIn, answers) -> None:
    view.asks_for_care = any(a.asks_for_care for a in answers)
    view.named_rules = list(checkin.rules.all())
    if view.asks_for_care:
        first = (
            Rule.objects.filter(agreement__couple_id=checkin.couple_id, position=1)
            .select_related("current_version", "latest_version")
            .first()
        )
        view.care_rules = [first] if first else []
        view.care_rules += [r for r in view.named_rules if r not in view.care_rules]


def _propose_url(checkin: CheckIn, mine: Answer) -> str:
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
    title = f"From our check-in: {checkin.topic}" if checkin.topic else "From our check-in"
    return {"title": title[:120], "text": mine.want}


def _etag(checkin: CheckIn, answers) -> str:
    """Changes whenever what any viewer sees of the check-in changes (never with the words)."""
    stamps = [checkin.revealed_at, checkin.closed_at, checkin.touched_at]
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


CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 320, 160, 16, 12, 12, 24


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
            rows[i]["steps"].append(Answer.Overall(value).label if value else "not answered")
            if value:
                points.append(Point(x(i), y(value), value, Answer.Overall(value).label))
        series.append(Series(name=partner.name, css=f"series-{n + 1}", points=points))
    levels = [{"y": y(v), "label": Answer.Overall(v).label, "value": v} for v in range(1, 6)]
    return Chart(
        width=CHART_W,
        height=CHART_H,
        series=series,
        rows=rows,
        names=[p.name for p in partners[:2]],
        levels=levels,
    )


@dataclass
class ListPage:
    views: list[CheckInView]
    open_view: CheckInView | None
    chart: Chart | None
    can_write: bool


def list_page(couple_id: int, seat: Partner, *, can_write: bool) -> ListPage:
    services.close_stale_of(couple_id=couple_id)
    checkins = list(checkins_of(couple_id).select_related("couple"))
    partners = _partners(couple_id)
    views = [view_for_partner(c, seat, can_write=can_write, partners=partners) for c in checkins]
    return ListPage(
        views=views,
        open_view=next((v for v in views if v.status == "open"), None),
        chart=chart(checkins, partners),
        can_write=can_write,
    )


def checkin_page(checkin: CheckIn, seat: Partner, *, can_write: bool) -> CheckInView:
    services.close_stale_of(couple_id=checkin.couple_id)
    fresh = checkins_of(checkin.couple_id).select_related("couple").get(pk=checkin.pk)
    return view_for_partner(fresh, seat, can_write=can_write)


def waiting_for(seat: Partner) -> CheckIn | None:
    """The couple's open check-in, if this partner has not sealed an answer to it yet. One
    query and no write (it is on every partner page): a check-in gone stale counts as closed
    here, and is closed for good by the check-in pages and the management command."""
    checkin = (
        CheckIn.objects.filter(
            couple_id=seat.couple_id,
            revealed_at__isnull=True,
            closed_at__isnull=True,
            touched_at__gt=timezone.now() - services.STALE_AFTER,
        )
        .exclude(
            pk__in=Answer.objects.filter(partner=seat, sealed_at__isnull=False).values("checkin_id")
        )
        .first()
    )
    return checkin


def shared_with_therapist(couple_id: int):
    """Revealed check-ins both partners share, newest first."""
    return [
        c
        for c in checkins_of(couple_id).filter(revealed_at__isnull=False).select_related("couple")
        if len(c.answers.all()) == 2 and all(a.shared_with_therapist for a in c.answers.all())
    ]


def when(checkin: CheckIn) -> datetime:
    return checkin.revealed_at or checkin.created_at


def exercises_ready(couple_id: int) -> list:
    """Check-ins a therapist invited the couple to, ready to start."""
    return list(therapy.pending_exercises(Agreement.objects.get(couple_id=couple_id)))
