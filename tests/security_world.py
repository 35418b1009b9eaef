"""A small world for the security tests: every role the authorization matrix knows, the objects
their URLs point at, and a marker word written into everything private.

    partner            alice, in a couple with bob (and, before that, in an ended couple with bob);
                       their agreement has a card in every state (agreements/stories.py)
    other_partner      bob
    other_couple       carol, in a couple with dave
    therapist          dana: two-factor on, live access to alice and bob's agreement
    therapist_without  theo: two-factor on, no access to anything
    therapist_revoked  rita: two-factor on, her access to alice and bob's agreement ended
    loner              mallory: signed in, belongs to no couple
    anonymous          not signed in

Every signed-in client has just re-authenticated, so that re-authentication does not hide the
answer a view gives (it is tested on its own).
"""

import time
from dataclasses import dataclass, field

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import linking
from accounts.models import Invitation, User
from agreements import consent, drafts, therapy
from agreements.models import Agreement, Rule
from agreements.stories import agreement_in_every_state, rules_up_for_review
from checkins import services as checkin_services
from tests.conftest import client_for, grant_therapist, link, make_user, reauthenticate

# In every rule, note and comment alice and bob write here; it must never reach anyone else.
SECRET = "Zanzibar-marmalade"

ROLES = [
    "anonymous",
    "partner",
    "other_partner",
    "other_couple",
    "therapist",
    "therapist_without",
    "therapist_revoked",
    "loner",
]
# Who may read alice and bob's current agreement.
ENTITLED = {"partner", "other_partner", "therapist"}


@dataclass
class World:
    users: dict[str, User | None]
    clients: dict[str, Client]
    agreement: Agreement  # alice and bob's current one
    past_agreement: Agreement  # alice and bob's earlier, ended one
    other_agreement: Agreement  # carol and dave's
    active_rule: Rule  # in force, with the secret wording
    proposed_rule: Rule  # waiting for bob's acceptance
    archived_rule: Rule
    resting_rule: Rule  # alice withdrew from it
    due_rule: Rule  # in force and due for review
    invitation_token: str  # ivy's open invitation
    seats: dict[str, object] = field(default_factory=dict)
    client_link_token: str = ""  # theo's open client link
    therapist_link_id: int = 0  # dana's open client link
    waiting_request_id: int = 0  # alice asked for theo; waiting for bob
    suggestion_id: int = 0  # dana's open suggestion to alice and bob
    exercise_id: int = 0  # dana's invitation to a check-in, ready to start
    checkin: object = None  # revealed, with the secret words, shared by both with dana
    open_checkin: object = None  # alice has sealed her answer, bob has not
    draft_id: int = 0  # mallory's draft of a new rule, written before any partner joined her


def give_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def signed_in(user: User) -> Client:
    client = client_for(user)
    reauthenticate(client, user)
    return client


def build_world() -> World:
    # allauth keeps its rate-limit counters in the cache, keyed by user id and IP: ids repeat
    # from one test to the next, so the counters must not.
    cache.clear()
    alice = make_user("alice@example.com", "Alice")
    bob = make_user("bob@example.com", "Bob")
    carol = make_user("carol@example.com", "Carol")
    dave = make_user("dave@example.com", "Dave")
    dana = make_user("dana@example.com", "Dana", therapist=True)
    theo = make_user("theo@example.com", "Theo", therapist=True)
    rita = make_user("rita@example.com", "Rita", therapist=True)
    mallory = make_user("mallory@example.com", "Mallory")
    ivy = make_user("ivy@example.com", "Ivy")
    for therapist in (dana, theo, rita):
        give_totp(therapist)

    # An earlier partnership of alice and bob, ended: its agreement is archived.
    first_a, _ = link(alice, bob)
    past_rule = Rule.objects.filter(agreement__couple_id=first_a.couple_id).first()
    consent.propose_change(
        partner=first_a, rule=past_rule, title=f"{SECRET} past", text=f"{SECRET} past wording"
    )
    linking.end_partnership(user=alice)
    past_agreement = Agreement.objects.get(couple_id=first_a.couple_id)

    # Their current agreement has a card in every state, and rules of their own with the secret.
    a, b = link(alice, bob)
    agreement = Agreement.objects.get(couple_id=a.couple_id)
    story = agreement_in_every_state(a, b)
    reviewed = rules_up_for_review(a, b)  # a card due for review: Keep it, Change it, Let it rest
    active = consent.propose_rule(
        partner=a, agreement=agreement, title=f"{SECRET} title", text=f"{SECRET} wording"
    )
    consent.accept(partner=b, rule=active, version_id=active.pending_version_id)
    proposed = consent.propose_rule(
        partner=a,
        agreement=agreement,
        title=f"{SECRET} proposal",
        text=f"{SECRET} proposed",
        note=f"{SECRET} note",
    )
    archived = story["waiting_for_both"]
    consent.archive(partner=b, rule=archived, note=f"{SECRET} archive note")

    c, _ = link(carol, dave)
    other_agreement = Agreement.objects.get(couple_id=c.couple_id)

    grant_therapist((a, b), dana)
    revoked = grant_therapist((b, a), rita)
    therapy.add_comment(
        agreement=agreement, rule=Rule.objects.get(pk=active.pk), therapist=rita, text=SECRET
    )
    therapy.end_access(access_id=revoked.pk, partner=a)
    therapy.add_comment(agreement=agreement, therapist=dana, text=f"{SECRET} comment")

    invitation = linking.create_invitation(inviter=ivy)
    assert Invitation.objects.find(invitation.token) is not None

    # What the therapist side adds: a request of alice's waiting for bob (theo's link), another
    # open link of theo's, an open link of dana's, and dana's suggestion to alice and bob.
    _, theos_first = therapy.create_client_link(therapist=theo)
    waiting = therapy.ask_partner(partner=a, token=theos_first, scope="rules")
    _, theos_open = therapy.create_client_link(therapist=theo)
    danas_link, _ = therapy.create_client_link(therapist=dana)
    suggestion = therapy.suggest_rule(
        therapist=dana, agreement=agreement, title=f"{SECRET} suggested", text=f"{SECRET} text"
    )
    exercise = therapy.invite_to_checkin(
        therapist=dana, agreement=agreement, prompt=f"{SECRET} prompt"
    )
    checkin, _ = checkin_services.start(partner=a, topic=f"{SECRET} topic")
    checkin_services.seal(partner=a, checkin=checkin, want=f"{SECRET} want", overall=2)
    checkin_services.seal(partner=b, checkin=checkin, emotion=f"{SECRET} emotion")
    checkin_services.add_reply(partner=b, checkin=checkin, text=f"{SECRET} reply")
    for seat in (a, b):
        checkin_services.set_sharing(partner=seat, checkin=checkin, share=True)
    open_checkin, _ = checkin_services.start(partner=b)
    checkin_services.seal(partner=a, checkin=open_checkin, sensation=f"{SECRET} sealed")

    mallorys_draft = drafts.save_draft(user=mallory, title="Mine", text="A draft of my own")

    users = {
        "anonymous": None,
        "partner": alice,
        "other_partner": bob,
        "other_couple": carol,
        "therapist": dana,
        "therapist_without": theo,
        "therapist_revoked": rita,
        "loner": mallory,
    }
    clients = {role: Client() if user is None else signed_in(user) for role, user in users.items()}
    return World(
        users=users,
        clients=clients,
        agreement=agreement,
        past_agreement=past_agreement,
        other_agreement=other_agreement,
        active_rule=Rule.objects.get(pk=active.pk),
        proposed_rule=Rule.objects.get(pk=proposed.pk),
        archived_rule=Rule.objects.get(pk=archived.pk),
        resting_rule=Rule.objects.get(pk=story["paused"].pk),
        due_rule=Rule.objects.get(pk=reviewed["due"].pk),
        invitation_token=invitation.token,
        seats={"alice": a, "bob": b, "carol": c},
        client_link_token=theos_open,
        therapist_link_id=danas_link.pk,
        waiting_request_id=waiting.pk,
        suggestion_id=suggestion.pk,
        exercise_id=exercise.pk,
        checkin=checkin,
        open_checkin=open_checkin,
        draft_id=mallorys_draft.pk,
    )


# -- every page kind ----------------------------------------------------------------------------

# allauth's pages people meet, signed out and signed in.
ALLAUTH_SIGNED_OUT = ["account_login", "account_signup", "account_reset_password"]
ALLAUTH_SIGNED_IN = [
    "account_logout",
    "account_email",
    "account_change_password",
    "account_reauthenticate",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "usersessions_list",
]


def every_page(world: World, *, secure: bool = False, roles=ROLES):
    """(label, response) for a GET of every project URL by every role, allauth's pages, an htmx
    fragment, and the error pages (404, 405, 413, 400)."""
    from tests.test_security_authorization import MATRIX, project_url_patterns

    for name in sorted(project_url_patterns()):
        case = MATRIX.get(name)
        if case is None:
            continue
        url = reverse(name, kwargs=case.kwargs(world))
        for role in roles:
            yield f"GET {name} as {role}", world.clients[role].get(url, secure=secure)
    anonymous, alice = world.clients["anonymous"], world.clients["partner"]
    for name in ALLAUTH_SIGNED_OUT:
        yield f"GET {name} signed out", anonymous.get(reverse(name), secure=secure)
    for name in ALLAUTH_SIGNED_IN:
        yield f"GET {name} as partner", alice.get(reverse(name), secure=secure)
    yield (
        "htmx card fragment",
        alice.get(
            reverse("agreements:card", args=[world.active_rule.pk]),
            headers={"HX-Request": "true"},
            secure=secure,
        ),
    )
    yield (
        "403 form expired (CSRF) signed out",
        Client(enforce_csrf_checks=True).post(
            reverse("account_login"), {"login": "x"}, secure=secure
        ),
    )
    yield "404 signed out", anonymous.get("/no-such-page/", secure=secure)
    yield "404 signed in", alice.get("/no-such-page/", secure=secure)
    yield "405", alice.post(reverse("agreements:agreement"), secure=secure)
    yield (
        "413",
        alice.post(reverse("agreements:new_rule"), {"text": "x" * 70_000}, secure=secure),
    )
    yield (
        "400 too many fields",
        alice.post(
            reverse("agreements:new_rule"),
            {f"f{i}": "x" for i in range(300)},
            secure=secure,
        ),
    )


def activate_totp(client: Client) -> str:
    """Turns on TOTP through allauth's pages (the client has just re-authenticated); returns the
    secret. A code typed at the very end of its 30 seconds may be refused: then the next one."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = client.session["mfa.totp.secret"]
    for _ in range(3):
        code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
        response = client.post(reverse("mfa_activate_totp"), {"code": code})
        if response.status_code == 302:
            return secret
        time.sleep(1)
    raise AssertionError(response.content.decode()[:1000])
