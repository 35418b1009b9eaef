"""Stories: agreements as couples live them, told only through the public services (consent.py,
therapy.py, accounts.linking), never by writing rows, so that the demo, the test worlds and the
benchmark's data set cannot drift from the real workflow.

One story, "an agreement in every state", is the one the demo couples, the browser tests, the
query-count tests and the benchmark share. Its rules, by position on the agreement page:

    1 in_force          both accepted the default wording
    2 also_in_force     the same, a second time (a rule to withdraw from in a test)
    3 reworded          in force at a second wording: the first partner proposed it, with a note,
                        and the second accepted
    4 waiting_for_a     the second partner accepted; waiting for the first
    5 waiting_for_b     the first partner accepted; waiting for the second
    6 change_proposed   in force, with a change the second partner proposed (with a note)
    7 paused            was in force; the first partner withdrew (with a note)
    8 declined          the first partner accepted, the second declined it (with a note): both
                        answers revealed together, and the no holds
    9 waiting_for_both  the default proposal, accepted by no one yet
   10 archived          a rule of their own the first partner proposed (with a note); the second
                        archived it (with a note)

In force: four of the nine rules that are not archived.
"""

from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts import linking
from accounts.models import Couple, Partner, User
from agreements import consent, therapy
from agreements.models import Agreement, ClientLink, Rule, RuleVersion, TherapistAccess, add_months

# The states of agreement_in_every_state, in the order of their positions.
EVERY_STATE = (
    "in_force",
    "also_in_force",
    "reworded",
    "waiting_for_a",
    "waiting_for_b",
    "change_proposed",
    "paused",
    "declined",
    "waiting_for_both",
    "archived",
)


def link(a: User, b: User) -> tuple[Partner, Partner]:
    """a invites b, b accepts: the couple and its agreement of nine default rules."""
    invitation = linking.create_invitation(inviter=a)
    couple: Couple = linking.accept_invitation(token=invitation.token, user=b)
    return couple.partners.get(user=a), couple.partners.get(user=b)


def agreement_of(seat: Partner) -> Agreement:
    return Agreement.objects.get(couple_id=seat.couple_id)


def rules_of(seat: Partner) -> list[Rule]:
    """The rules of the seat's couple, by position, as the database has them now."""
    return list(
        Rule.objects.filter(agreement__couple_id=seat.couple_id)
        .select_related("pending_version", "current_version")
        .order_by("position")
    )


def fresh(rule: Rule) -> Rule:
    """The rule as the database has it now."""
    return Rule.objects.select_related("pending_version", "current_version").get(pk=rule.pk)


def accept(seat: Partner, rule: Rule) -> Rule:
    """The seat accepts the wording waiting on the rule now."""
    return consent.accept(partner=seat, rule=rule, version_id=fresh(rule).pending_version_id)


def both_accept(rule: Rule, a: Partner, b: Partner) -> Rule:
    """Both partners accept the wording waiting on the rule; the rule as it is afterwards."""
    for seat in (a, b):
        accept(seat, rule)
    return fresh(rule)


def agreement_in_every_state(a: Partner, b: Partner) -> dict[str, Rule]:
    """The couple's new agreement (nine default rules, nothing accepted yet) taken to every state
    a card can show: see the table at the top of this module. The rules as they are afterwards,
    by state, in the order of their positions."""
    rules = rules_of(a)[:9]
    story = dict(zip(EVERY_STATE, rules, strict=False))
    for name in ("in_force", "also_in_force", "reworded", "change_proposed", "paused"):
        both_accept(story[name], a, b)
    reworded = consent.propose_change(
        partner=a,
        rule=story["reworded"],
        title=story["reworded"].pending_version.title,
        text=story["reworded"].pending_version.text + " We check in with each other afterwards.",
        note="Afterwards matters as much as before.",
    )
    accept(b, reworded)
    accept(b, story["waiting_for_a"])
    accept(a, story["waiting_for_b"])
    consent.propose_change(
        partner=b,
        rule=story["change_proposed"],
        title="Equals, with room for both voices",
        text="We name the power differences between us, out loud and without blame, and treat "
        "each other as equals, teammates and allies, so that there is always room for each of "
        "us to tell the truth.",
        note="I'd like us to say them out loud.",
    )
    consent.withdraw(partner=a, rule=story["paused"], note="I want to talk about this one again.")
    waiting = fresh(story["declined"]).pending_version_id
    # The first partner's yes stays sealed until the second answers: a no, which holds the key.
    consent.accept(
        partner=a, rule=story["declined"], version_id=waiting, note="Yes, this is how I feel too."
    )
    consent.decline(partner=b, rule=story["declined"], version_id=waiting, note="Not in this form.")
    own = consent.propose_rule(
        partner=a,
        agreement=agreement_of(a),
        title="Phones away at dinner",
        text="At dinner our phones stay in another room, unless one of us is on call.",
        note="Something small to start with.",
    )
    consent.archive(partner=b, rule=own, note="Let's keep this for later.")
    story["archived"] = own
    return {name: fresh(rule) for name, rule in story.items()}


def rules_of_their_own(a: Partner, b: Partner, count: int) -> list[Rule]:
    """That many more rules, each proposed by the first partner; every other one accepted by the
    second as well (in force), the rest waiting for the second. For agreements of some size."""
    agreement = agreement_of(a)
    rules = []
    for n in range(count):
        rule = consent.propose_rule(
            partner=a, agreement=agreement, title=f"Rule {n}", text=f"Wording {n}."
        )
        rules.append(accept(b, rule) if n % 2 else rule)
    return rules


def grant_therapist(
    seats: tuple[Partner, Partner],
    therapist: User,
    scope: str = TherapistAccess.Scope.HISTORY,
) -> TherapistAccess:
    """The only way a therapist's access starts: the therapist's client link, one partner asks
    with it, the other agrees (sharing "the rules and our history" unless told otherwise)."""
    first, second = seats
    _, token = therapy.create_client_link(therapist=therapist)
    asked = therapy.ask_partner(partner=first, token=token, scope=scope)
    return therapy.agree(partner=second, access_id=asked.pk)


def therapist_review(
    seats: tuple[Partner, Partner], therapist: User, rules: list[Rule], *, visited: bool = False
) -> TherapistAccess:
    """The therapist is given access and comments on each of these rules, the first partner
    replies to each comment, and the therapist adds a word on the whole agreement. With visited,
    the therapist looked at the agreement once before commenting, so that the comments are new
    since that visit."""
    access = grant_therapist(seats, therapist)
    if visited:
        therapy.record_view(access)
    agreement = agreement_of(seats[0])
    for rule in rules:
        therapy.add_comment(
            agreement=agreement,
            rule=rule,
            therapist=therapist,
            text="Worth talking through what this looks like for each of you when it happens.",
        )
        therapy.add_comment(
            agreement=agreement,
            rule=rule,
            partner=seats[0],
            text="We'll bring it to our next session.",
        )
    therapy.add_comment(
        agreement=agreement,
        therapist=therapist,
        text="A good start. Notice which rules are still waiting, and what makes them harder "
        "to accept.",
    )
    return access


def seed_demo_therapist(*, dana: User, couple: tuple[Partner, Partner]) -> None:
    """What dana offered a couple who gave her access: new wording for a rule that waits for
    both of them (still open), and a new rule that the first partner adopted as her proposal
    (waiting for the second partner's answer)."""
    first, _ = couple
    agreement = agreement_of(first)
    rule = rules_of(first)[EVERY_STATE.index("waiting_for_both")]
    therapy.suggest_wording(
        therapist=dana,
        rule=rule,
        title=rule.shown_version.title,
        text=rule.shown_version.text + " When one of us is unsure, we stop and ask.",
        note="You both said checking in felt awkward; this makes it part of the rule.",
    )
    adopted = therapy.suggest_rule(
        therapist=dana,
        agreement=agreement,
        title="A weekly check-in",
        text="Once a week we take twenty minutes, phones away, to say how our agreement feels.",
        note="Something to try between our sessions.",
    )
    therapy.adopt_suggestion(partner=first, suggestion_id=adopted.pk)
    # Dana's own name for the couple on her client list (never shown to them).
    access = agreement.therapist_accesses.get(therapist=dana, status=TherapistAccess.Status.ACTIVE)
    if access.client_link_id is not None:
        therapy.label_client_link(
            therapist=dana, link_id=access.client_link_id, label="Thursday evenings"
        )


def demo_client_link(*, dana: User) -> str:
    """A fresh open client link of dana's (for alice and bob), as a full URL. The token is never
    stored, so each run cancels dana's earlier unused demo links and makes a new one."""
    ClientLink.objects.filter(
        therapist=dana, used_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=timezone.now())
    link, token = therapy.create_client_link(therapist=dana)
    therapy.label_client_link(therapist=dana, link_id=link.pk, label="New couple, first session")
    return settings.SITE_URL.rstrip("/") + reverse("agreements:client_link", args=[token])


# -- review dates ---------------------------------------------------------------------------------


@contextmanager
def as_of(moment: datetime):
    """Tells a part of a story as it happened at `moment`: the services read the clock through
    django.utils.timezone.now, and so does everything they write."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def rules_up_for_review(a: Partner, b: Partner) -> dict[str, Rule]:
    """Two rules of their own with review dates, both accepted: "due" was accepted a month ago
    with a review in a month (so it is due today), "next_month" today with a review in a month.
    Told once: a couple who has reviewed rules already keeps what it has."""
    agreement = agreement_of(a)
    found = RuleVersion.objects.filter(rule__agreement=agreement).exclude(review_after="")
    if found.exists():
        return {}
    now = timezone.now()
    told = {}
    for name, when, title, text in (
        (
            "due",
            add_months(now, -1),
            "Sunday evenings",
            "On Sunday evening we ask each other how the week felt, without fixing anything.",
        ),
        (
            "next_month",
            now,
            "Date night",
            "Once a week one of us plans an evening for the two of us.",
        ),
    ):
        with as_of(when):
            rule = consent.propose_rule(
                partner=a, agreement=agreement, title=title, text=text, review_after="1m"
            )
            told[name] = both_accept(rule, a, b)
    return {name: fresh(rule) for name, rule in told.items()}
