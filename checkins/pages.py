"""Read models for the check-in screens: the list (with the chart), one check-in, and what a
therapist may read. The one place that decides whose words a viewer gets: their own always, the
other partner's only once the check-in is revealed."""

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from accounts.models import Couple, Partner
from agreements import therapy
from agreements.models import Agreement, Rule
from agreements.pages import memo
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


def partners_of(couple_id: int) -> list[Partner]:
    return list(
        Partner.objects.filter(couple_id=couple_id)
        .select_related("user")
        .order_by("joined_at", "pk")
    )


def view_for_partner(
    checkin: CheckIn,
    seat: Partner,
    *,
    can_write: bool,
    partners: list[Partner] | None = None,
    care_rule: Rule | None = None,
) -> CheckInView:
    """What this partner sees of the check-in, decided on every request (also from kept rows):
    the other partner's answer only once the check-in is revealed."""
    partners = partners if partners is not None else partners_of(checkin.couple_id)
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
        _care(view, checkin, answers.values(), care_rule)
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


def _care(view: CheckInView, checkin: CheckIn, answers, care_rule: Rule | None = None) -> None:
    view.asks_for_care = any(a.asks_for_care for a in answers)
    view.named_rules = list(checkin.rules.all())
    if view.asks_for_care:
        first = care_rule if care_rule is not None else _first_rule(checkin.couple_id)
        view.care_rules = [first] if first else []
        view.care_rules += [r for r in view.named_rules if r not in view.care_rules]


WORDINGS = ("current_version", "pending_version", "agreed_version", "latest_version")


def _first_rule(couple_id: int) -> Rule | None:
    return (
        Rule.objects.filter(agreement__couple_id=couple_id, position=1)
        .select_related(*WORDINGS)
        .first()
    )


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


# -- what a worker keeps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoupleRows:
    """Everything of a couple's check-ins the partners' screens show, as of one check-in
    revision and agreement revision, with the words decrypted: kept in the worker's memory only
    (agreements/pages/memo.py), the same for both partners, never changed after. Whose words a
    viewer gets is decided per request, in view_for_partner."""

    key: tuple
    checkins: list[CheckIn]  # newest first, with answers, named rules and who started each
    care_rule: Rule | None  # rule 1, read only when a revealed check-in asks for care

    def find(self, checkin_id: int) -> CheckIn | None:
        return next((c for c in self.checkins if c.pk == checkin_id), None)


def rows_key(couple: Couple, agreement: Agreement, partners: list[Partner]) -> tuple:
    """Read afresh by every request (in the gate's one query). The check-in revision moves with
    every check-in service; the agreement's with every event (the named rules' wording, the
    therapist's invitations); a rename, a partner leaving or the couple ending write neither, so
    they are in the key themselves. created_at: a primary key can come back after a rollback."""
    return (
        couple.pk,
        couple.created_at,
        couple.checkins_revision,
        couple.ended_at,
        agreement.revision,
        tuple((p.pk, p.user_id, p.name, p.left_at) for p in partners),
    )


def _read_rows(key: tuple, couple: Couple) -> CoupleRows:
    answers = Prefetch("answers", queryset=Answer.objects.order_by("pk"))
    rules = Prefetch("rules", queryset=Rule.objects.select_related(*WORDINGS))
    checkins = list(
        CheckIn.objects.filter(couple_id=couple.pk)
        .select_related("started_by__user")
        .prefetch_related(answers, rules)
        .order_by("-created_at", "-pk")
    )
    kept = copy.copy(couple)  # never the request's own object, which the request may change
    for c in checkins:
        c.couple = kept  # as of this key: its ended_at is in it
    cares = any(a.asks_for_care for c in checkins if c.is_revealed for a in c.answers.all())
    return CoupleRows(key, checkins, _first_rule(couple.pk) if cares else None)


def couple_rows(couple: Couple, agreement: Agreement, partners: list[Partner]) -> CoupleRows:
    """The couple's check-ins as of the revisions the gate read. The lazy half of expiry: time
    moves without a write, so an open check-in that went stale since is closed now (a write that
    bumps the revision) and the rows read afresh, as every page did before it kept them."""
    key = rows_key(couple, agreement, partners)
    rows = memo.checkin_rows.get_or_make(key, lambda: _read_rows(key, couple))
    if any(c.is_stale for c in rows.checkins):
        services.close_stale_of(couple_id=couple.pk)
        now = Couple.objects.select_related("agreement").get(pk=couple.pk)
        key = rows_key(now, now.agreement, partners)
        rows = memo.checkin_rows.get_or_make(key, lambda: _read_rows(key, now))
    return rows


def list_extras(rows: CoupleRows, agreement: Agreement) -> dict:
    """What only the list shows beyond the check-ins: the rules a new one may name, and the
    check-ins a therapist invited to. Both move with the agreement's revision (an invitation and
    its start are events), which is in the rows' key."""

    def read() -> dict:
        rules = (
            agreement.rules.exclude(state=Rule.State.ARCHIVED)
            .select_related(*WORDINGS)
            .order_by("position", "pk")
        )
        return {
            "rule_choices": [(r.pk, f"{r.number}. {r.wording.title or 'Rule'}") for r in rules],
            "exercises": list(therapy.pending_exercises(agreement)),
        }

    return memo.checkin_rows.get_or_make((rows.key, "the list's extras"), read)


def list_page(
    rows: CoupleRows, seat: Partner, partners: list[Partner], *, can_write: bool
) -> ListPage:
    views = [
        view_for_partner(c, seat, can_write=can_write, partners=partners, care_rule=rows.care_rule)
        for c in rows.checkins
    ]
    return ListPage(
        views=views,
        open_view=next((v for v in views if v.status == "open"), None),
        chart=chart(rows.checkins, partners),
        can_write=can_write,
    )


def checkin_page(
    rows: CoupleRows, checkin_id: int, seat: Partner, partners: list[Partner], *, can_write: bool
) -> CheckInView:
    checkin = rows.find(checkin_id)
    if checkin is None:  # deleted since the gate let the request in
        raise CheckIn.DoesNotExist
    return view_for_partner(
        checkin, seat, can_write=can_write, partners=partners, care_rule=rows.care_rule
    )


def kept_html(key: tuple, template: str, context: Callable[[], dict]) -> list[str]:
    """A screen's rendered body for one viewer, split where the CSRF token goes, kept in the
    worker's memory by the rows' key and the viewer (`key` must hold both): the template put in
    only what view_for_partner let this viewer see."""

    return memo.kept_fragment(memo.checkin_html, key, template, context)


def waiting_for(seat: Partner) -> CheckIn | None:
    """The couple's open check-in, if this partner has not sealed an answer to it yet. No write
    (it is on every partner page): a check-in gone stale counts as closed here, and is closed for
    good by the check-in pages and the management command. Read once per check-in revision and
    worker (every change to a check-in, its touch included, moves it), the staleness asked on
    every request."""
    couple = seat.couple
    key = (couple.pk, couple.created_at, couple.checkins_revision, seat.pk, "waiting")
    checkin = memo.checkin_rows.get_or_make(key, lambda: _open_unsealed(seat))
    if checkin is None or checkin.touched_at <= timezone.now() - services.STALE_AFTER:
        return None
    return checkin


def _open_unsealed(seat: Partner) -> CheckIn | None:
    return (
        CheckIn.objects.filter(
            couple_id=seat.couple_id, revealed_at__isnull=True, closed_at__isnull=True
        )
        .exclude(
            pk__in=Answer.objects.filter(partner=seat, sealed_at__isnull=False).values("checkin_id")
        )
        .order_by("-created_at", "-pk")
        .first()
    )


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
