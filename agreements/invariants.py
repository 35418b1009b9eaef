"""The consent invariant, checkable: the race tests run check_agreement after every round.

For one agreement it verifies, from the rows and independently from the event ledger:
- every rule in force has live acceptances from exactly its couple's two partners, for exactly
  the version in force (and from no one else);
- no live acceptance is left on a version that is neither in force nor waiting (nor declined by
  one partner while the other's yes to it stands);
- nothing came into force (and nothing at all happened) after the partnership ended;
- each rule's state and version pointers are what replaying its events gives, and every
  "came into force" event follows both partners' acceptance of that version;
- nothing is read as in force past its lapse moment (a review nobody answered within
  REVIEW_GRACE), whether or not the lapse is written down yet.
"""

from collections import defaultdict

from django.utils import timezone

from accounts.models import Partner
from agreements.models import Acceptance, Agreement, Event, Rule

State = Rule.State
Kind = Event.Kind

# Events that record a partner's acceptance of their event's version.
ANSWERING = {Kind.ACCEPTED, Kind.NOT_YET, Kind.DECLINED}
ACCEPTING = {
    Kind.ACCEPTED,
    Kind.PROPOSED_RULE,
    Kind.PROPOSED_CHANGE,
    Kind.CHANGED_AT_REVIEW,
    Kind.RESTORED,
    Kind.REOPENED,
}


def check_agreement(agreement: Agreement) -> list[str]:
    """Every violation found, in words; an empty list when the agreement is sound."""
    agreement = Agreement.objects.select_related("couple").get(pk=agreement.pk)
    couple = agreement.couple
    seats = set(Partner.objects.filter(couple=couple).values_list("pk", flat=True))
    current_seats = set(
        Partner.objects.filter(couple=couple, left_at__isnull=True).values_list("pk", flat=True)
    )
    problems: list[str] = []
    if couple.ended_at is None and len(current_seats) != 2:
        problems.append(f"a current couple with {len(current_seats)} current partners")
    if couple.ended_at is not None and current_seats:
        problems.append("an ended couple with partners who never left")

    rules = list(agreement.rules.all())
    live = defaultdict(set)
    for version_id, partner_id, created_at in Acceptance.objects.filter(
        version__rule__agreement=agreement, withdrawn_at__isnull=True
    ).values_list("version_id", "partner_id", "created_at"):
        live[version_id].add(partner_id)
        if couple.ended_at is not None and created_at > couple.ended_at:
            problems.append(f"an acceptance of version {version_id} recorded after the end")
    events = list(agreement.events.order_by("pk"))
    problems += _check_end(couple, events)

    by_rule = defaultdict(list)
    for event in events:
        if event.rule_id:
            by_rule[event.rule_id].append(event)
    for rule in rules:
        name = f"rule {rule.position}"
        problems += [f"{name}: {p}" for p in _check_rows(rule, live, seats)]
        problems += [f"{name}: {p}" for p in _check_replay(rule, by_rule[rule.pk], seats)]
    return problems


def _check_end(couple, events: list[Event]) -> list[str]:
    ended = [e for e in events if e.kind == Kind.PARTNERSHIP_ENDED]
    if couple.ended_at is None:
        return ["a partnership-ended event in a current couple"] if ended else []
    if len(ended) != 1:
        return [f"{len(ended)} partnership-ended events in an ended couple"]
    after = [e.kind for e in events if e.pk > ended[0].pk]
    return [f"{kind} recorded after the partnership ended" for kind in after]


def _check_rows(rule: Rule, live: dict, seats: set[int]) -> list[str]:
    problems = []
    if rule.lapses_at is not None and rule.lapses_at <= timezone.now():
        problems.append("read as in force past its lapse moment")
    if rule.lapse_unrecorded:
        # Read as resting, by the clock; its rows are still those of a rule in force.
        accepted = live.get(rule.agreed_version_id, set())
        if accepted != seats:
            problems.append(f"in force (unrecorded lapse) accepted by {sorted(accepted)} only")
        live = {**live, rule.agreed_version_id: set()}
    if rule.state == State.ACTIVE:
        if len(seats) != 2:
            problems.append(f"in force in a couple of {len(seats)} seats")
        accepted = live.get(rule.current_version_id, set())
        if accepted != seats:
            problems.append(
                f"in force with live acceptances of {sorted(accepted)}, not of {sorted(seats)}"
            )
    elif rule.current_version_id is not None:
        problems.append(f"{rule.state} with a version in force")
    if (rule.state == State.PAUSED) != (rule.agreed_version_id is not None):
        problems.append(f"{rule.state} with agreed wording {rule.agreed_version_id}")
    if rule.state == State.PAUSED and rule.withdrawn_by_id not in seats | {None}:
        problems.append("resting without who withdrew")
    if rule.state in (State.DECLINED, State.ARCHIVED) and rule.pending_version_id:
        problems.append(f"{rule.state} with a version waiting")
    if rule.state == State.PROPOSED and not rule.pending_version_id:
        problems.append("proposed with nothing waiting")
    if rule.pending_version_id and live.get(rule.pending_version_id, set()) >= seats:
        problems.append("a waiting version accepted by both that is not in force")
    # A declined wording stays on the table for the one who declined while the other's yes
    # stands (never the decliner's own).
    on_the_table = {rule.current_version_id, rule.pending_version_id, rule.declined_version_id}
    if rule.declined_by_id in live.get(rule.declined_version_id, set()):
        problems.append("a live acceptance of a wording by the partner who declined it")
    for version in rule.versions.all():
        partners = live.get(version.pk, set())
        if version.pk not in on_the_table and partners:
            problems.append(f"live acceptances of version {version.number}, no longer waiting")
        if partners - seats:
            problems.append(f"acceptances of version {version.number} from outside the couple")
    return problems


def _check_replay(rule: Rule, events: list[Event], seats: set[int]) -> list[str]:
    """Replays the rule's events into (state, current, pending, agreed) and compares."""
    problems = []
    state, current, pending, agreed = State.PROPOSED, None, None, None
    first = rule.versions.order_by("number").values_list("pk", flat=True).first()
    pending = first
    accepted = defaultdict(set)  # version -> partners who accepted it at some point
    # version -> each partner's latest answer in the current round: a decline ends the wording
    # only once every partner has answered (sealed answers, agreements/rounds.py).
    answers: dict = defaultdict(dict)
    for event in events:
        kind, version = event.kind, event.version_id
        if kind in ACCEPTING and event.partner_id:
            accepted[version].add(event.partner_id)
        if kind == Kind.CHANGED_AT_REVIEW:
            kind = Kind.PROPOSED_CHANGE  # the review's Change it is a proposal like any other
        if kind in (Kind.PROPOSED_RULE, Kind.PROPOSED_CHANGE, Kind.RESTORED, Kind.REOPENED):
            answers[version] = {event.partner_id: Kind.ACCEPTED} if event.partner_id else {}
        elif kind in (Kind.ACCEPTED, Kind.NOT_YET, Kind.DECLINED) and event.partner_id:
            answers[version][event.partner_id] = kind
        complete = set(answers[version]) >= seats
        declined = kind in ANSWERING and complete and Kind.DECLINED in answers[version].values()
        if kind == Kind.IN_FORCE:
            if accepted[version] != seats:
                problems.append(f"came into force accepted by {sorted(accepted[version])} only")
            state, current, pending, agreed = State.ACTIVE, version, None, None
        elif kind == Kind.PROPOSED_CHANGE:
            pending = version
            if state not in (State.ACTIVE, State.PAUSED):
                state = State.PROPOSED
        elif (declined and version == pending) or kind == Kind.TOOK_BACK:
            pending = None
            answers[version] = {}
            if state == State.PROPOSED:
                state = State.DECLINED
        elif kind in (Kind.WITHDREW, Kind.LET_REST, Kind.LAPSED) and state == State.ACTIVE:
            # (On a resting rule a withdrawal only ends one's consent to a waiting change.)
            state, agreed, current = State.PAUSED, current, None
        elif kind in (Kind.LET_REST, Kind.LAPSED) or (kind == Kind.KEPT and state != State.ACTIVE):
            problems.append(f"{kind} on a rule that was not in force")
        elif kind in (Kind.REOPENED, Kind.RESTORED):
            state, pending, agreed = State.PROPOSED, version, None
        elif kind == Kind.ARCHIVED:
            state, pending, agreed = State.ARCHIVED, None, None
    replayed = (state, current, pending, agreed)
    stored = (rule.state, rule.current_version_id, rule.pending_version_id, rule.agreed_version_id)
    if rule.lapse_unrecorded:  # its rows: in force, as the events say until the lapse is written
        stored = (State.ACTIVE, rule.agreed_version_id, rule.pending_version_id, None)
    if replayed != stored:
        problems.append(f"(state, in force, waiting, agreed) is {stored}, events say {replayed}")
    return problems
