"""Hostile input: Hypothesis drives every form and every action endpoint with arbitrary text, ids
and states. Never a 500; text always rendered escaped; nothing half-applied (a refused request
changes nothing, and the agreement's invariants hold after every request). Oversized requests are
refused cleanly."""

import string
from collections import defaultdict

import pytest
from django.db import transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.utils.text import normalize_newlines
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import Couple, Invitation, Partner, User
from agreements.models import (
    Acceptance,
    Agreement,
    Comment,
    Event,
    Rule,
    RuleVersion,
    TherapistAccess,
)
from intimacy.validators import is_one_line
from tests.security_world import World, build_world

EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Text that tries hard: markup, quotes, template syntax, control and far-away characters.
NASTY = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ request }}{% debug %}",
    "' OR 1=1 --",
    "\x00",
    "\r\n\t",
    "&amp;&lt;",
    "\u202e\u200b\ufeff",
    "🙂" * 3,
    "x" * 2001,
    "9" * 30,
    "-1",
    "",
]
texts = st.one_of(st.text(max_size=200), st.sampled_from(NASTY), st.text(max_size=2100))
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(["0", "1", "2"])
)


def values(world: World):
    known = [
        *RuleVersion.objects.filter(rule__agreement=world.agreement).values_list("pk", flat=True),
        *Rule.objects.filter(agreement=world.agreement).values_list("pk", flat=True),
        *TherapistAccess.objects.values_list("pk", flat=True),
    ]
    return st.one_of(st.sampled_from([str(k) for k in known]), texts, numbers)


def rule_ids(world: World):
    """Mostly alice and bob's rules (where things can happen), also others' and made-up ones."""
    ours = list(Rule.objects.filter(agreement=world.agreement).values_list("pk", flat=True))
    every = list(Rule.objects.values_list("pk", flat=True))
    return st.one_of(
        st.sampled_from(ours), st.sampled_from(every), st.integers(min_value=0, max_value=2**80)
    )


# alice and bob act most; everyone else tries too.
ROLE_WEIGHTS = ["partner", "other_partner"] * 3 + [
    "anonymous",
    "other_couple",
    "therapist",
    "therapist_without",
    "therapist_revoked",
    "loner",
]


# Every action a person can post, with the fields its form knows (and Hypothesis may add others).
RULE_ACTIONS = {
    "agreements:accept": ["version", "note"],
    "agreements:not_yet": ["version", "note"],
    "agreements:decline": ["version", "note"],
    "agreements:change": ["title", "text", "note"],
    "agreements:withdraw": ["note"],
    "agreements:take_back": ["version", "note"],
    "agreements:reopen": ["note"],
    "agreements:archive": ["note"],
    "agreements:restore": ["note"],
}
PLAIN_ACTIONS = {
    "agreements:new_rule": ["title", "text", "note"],
    "agreements:reply": ["text", "rule"],
    "agreements:therapist_access": ["action", "email", "access"],
    "accounts:invite": ["email"],
    "accounts:cancel_invitation": [],
    "accounts:settings": ["display_name", "partner_update_emails"],
    "accounts:end_partnership": [],
    "accounts:delete_account": ["confirm"],
}
THERAPIST_ACTIONS = {
    "therapist:comment": ["text", "rule"],
    "therapist:step_away": [],
}
CHOICES = {
    "action": st.sampled_from(["request", "agree", "refuse", "end", "", "drop tables"]),
    "partner_update_emails": st.sampled_from(["on", "", "off", "true"]),
    "confirm": st.sampled_from(["on", "", "yes"]),
    "choice": st.sampled_from(["accept", "decline", "", "maybe"]),
}


@st.composite
def requests(draw, world: World):
    """One request: who, where, what."""
    role = draw(st.sampled_from(ROLE_WEIGHTS))
    kind = draw(st.sampled_from(["rule"] * 4 + ["plain", "therapist", "invitation"]))
    if kind == "rule":
        name = draw(st.sampled_from(sorted(RULE_ACTIONS)))
        kwargs, fields = {"rule_id": draw(rule_ids(world))}, RULE_ACTIONS[name]
    elif kind == "plain":
        name = draw(st.sampled_from(sorted(PLAIN_ACTIONS)))
        kwargs, fields = {}, PLAIN_ACTIONS[name]
    elif kind == "therapist":
        name = draw(st.sampled_from(sorted(THERAPIST_ACTIONS)))
        agreement_ids = [world.agreement.pk, world.other_agreement.pk, world.past_agreement.pk]
        agreement_id = draw(
            st.one_of(st.sampled_from(agreement_ids), st.integers(min_value=0, max_value=2**70))
        )
        kwargs, fields = {"agreement_id": agreement_id}, THERAPIST_ACTIONS[name]
    else:
        name = "accounts:invitation"
        token = draw(st.one_of(st.just(world.invitation_token), st.text(min_size=1, max_size=300)))
        kwargs, fields = {"token": token}, ["choice"]
    data = {}
    for field in fields:
        if draw(st.booleans()) or field in ("version", "text"):
            data[field] = draw(CHOICES.get(field, values(world)))
    extra = draw(st.dictionaries(st.text(string.ascii_letters, max_size=12), texts, max_size=2))
    data = {**extra, **data}
    htmx = draw(st.booleans())
    return role, name, kwargs, data, htmx


def url_for(name: str, kwargs: dict) -> str | None:
    from django.urls import NoReverseMatch

    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None  # e.g. a token with a slash: no URL of ours could carry it


def snapshot() -> tuple:
    """Everything a person can change, as the database holds it."""
    return (
        list(
            Rule.objects.order_by("pk").values_list(
                "pk", "state", "current_version", "pending_version", "latest_version"
            )
        ),
        list(
            Acceptance.objects.order_by("pk").values_list(
                "pk", "version", "partner", "withdrawn_at"
            )
        ),
        Event.objects.count(),
        Comment.objects.count(),
        list(TherapistAccess.objects.order_by("pk").values_list("pk", "status")),
        list(Invitation.objects.order_by("pk").values_list("pk", "status")),
        list(Couple.objects.order_by("pk").values_list("pk", "ended_at")),
        list(Partner.objects.order_by("pk").values_list("pk", "user", "left_at")),
        list(
            User.objects.order_by("pk").values_list("pk", "display_name", "partner_update_emails")
        ),
    )


def assert_consistent() -> None:
    """The agreement's invariants, for every agreement (a fixed number of queries)."""
    agreements = Agreement.objects.annotate(events_count=Count("events")).values(
        "pk", "revision", "events_count", "couple_id", "couple__ended_at"
    )
    current = defaultdict(set)
    for couple_id, partner_id in Partner.objects.filter(left_at__isnull=True).values_list(
        "couple_id", "pk"
    ):
        current[couple_id].add(partner_id)
    sealed_revisions = defaultdict(int)  # a sealed answer moves only its author's revision
    for couple_id, sealed_revision in Partner.objects.values_list("couple_id", "sealed_revision"):
        sealed_revisions[couple_id] += sealed_revision
    versions = defaultdict(dict)
    for pk, rule_id, number in RuleVersion.objects.values_list("pk", "rule_id", "number"):
        versions[rule_id][pk] = number
    live = defaultdict(set)  # version -> partners holding consent to it
    for version_id, partner_id in Acceptance.objects.filter(withdrawn_at__isnull=True).values_list(
        "version_id", "partner_id"
    ):
        live[version_id].add(partner_id)
    rules = defaultdict(list)
    columns = (
        "pk",
        "agreement_id",
        "state",
        "current_version_id",
        "pending_version_id",
        "latest_version_id",
        "agreed_version_id",
        "declined_by_id",
    )
    for rule in Rule.objects.values(*columns):
        # The wording a partner declined while the other's yes to it stands (Rule's own answer).
        rule["declined_version_id"] = Rule(**{"id": rule["pk"], **rule}).declined_version_id
        rules[rule["agreement_id"]].append(rule)

    for agreement in agreements:
        # Every event bumped the revision once (a sealed answer its author's), in the same
        # transaction: nothing half-written. A new name moves it too, with no event of its own.
        moved = agreement["revision"] + sealed_revisions[agreement["couple_id"]]
        assert moved >= agreement["events_count"], agreement
        partners = current[agreement["couple_id"]]
        for rule in rules[agreement["pk"]]:
            own = versions[rule["pk"]]
            shown = {rule["current_version_id"], rule["pending_version_id"]} - {None}
            assert shown <= set(own), rule
            assert own[rule["latest_version_id"]] == max(own.values()) == len(own), rule
            # Consent is only ever held for the wording in force, the wording waiting, or a
            # declined wording the other partner still says yes to.
            held = {v for v in own if live[v]}
            assert held <= shown | {rule["declined_version_id"]}, rule
            if rule["state"] == Rule.State.ACTIVE:
                if agreement["couple__ended_at"] is None:
                    assert live[rule["current_version_id"]] >= partners, rule
            else:
                assert rule["current_version_id"] is None, rule


def ask(client: Client, method: str, url: str, data: dict, htmx: bool):
    headers = {"HX-Request": "true"} if htmx else {}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, data, headers=headers)


@pytest.fixture
def world(db) -> World:
    world = build_world()
    for client in world.clients.values():
        client.raise_request_exception = False  # a 500 is a status to assert on, not a crash
    return world


def test_every_action_survives_arbitrary_input_and_never_half_applies(world):
    @EXAMPLES
    @given(st.lists(requests(world), min_size=1, max_size=6))
    def run(steps):
        with transaction.atomic():
            for role, name, kwargs, data, htmx in steps:
                url = url_for(name, kwargs)
                if url is None:
                    continue
                before = snapshot()
                response = ask(world.clients[role], "POST", url, data, htmx)
                event(f"{response.status_code}")
                assert response.status_code < 500, (role, name, kwargs, data)
                if response.status_code >= 400:
                    assert snapshot() == before, (role, name, response.status_code)
                assert_consistent()
            transaction.set_rollback(True)

    run()


def test_every_page_survives_arbitrary_ids_and_query_strings(world):
    pages = [
        ("agreements:history", "rule_id"),
        ("agreements:change", "rule_id"),
        ("agreements:withdraw", "rule_id"),
        ("agreements:not_yet", "rule_id"),
        ("agreements:card", "rule_id"),
        ("agreements:archived", "agreement_id"),
        ("agreements:archived_print", "agreement_id"),
        ("therapist:couple", "agreement_id"),
        ("therapist:timeline", "agreement_id"),
        ("accounts:invitation", "token"),
    ]

    @EXAMPLES
    @given(
        st.sampled_from(list(world.clients)),
        st.sampled_from(pages),
        st.one_of(st.integers(min_value=0, max_value=2**80), st.sampled_from(["1", "2", "3"])),
        st.dictionaries(st.text(max_size=10), texts, max_size=3),
        st.booleans(),
    )
    def run(role, page, ident, query, htmx):
        name, param = page
        kwargs = {param: ident}
        if name.startswith("therapist:") or name == "agreements:archived_print":
            kwargs = {"agreement_id": ident}
        url = url_for(name, kwargs)
        if url is None:
            return
        response = world.clients[role].get(
            url, query, headers={"HX-Request": "true"} if htmx else {}
        )
        assert response.status_code < 500, (role, name, kwargs, query)

    run()


def test_allauths_forms_survive_arbitrary_input(world):
    forms = {
        "account_login": ["login", "password"],
        "account_signup": ["email", "password1", "display_name", "account_type", "practice_name"],
        "account_reset_password": ["email"],
        "account_reauthenticate": ["password"],
        "account_change_password": ["oldpassword", "password1", "password2"],
        "account_email": ["email", "action_add", "action_remove", "action_primary"],
        "mfa_activate_totp": ["code"],
    }

    @EXAMPLES
    @given(
        st.sampled_from(["anonymous", "loner"]),
        st.sampled_from(sorted(forms)),
        st.data(),
    )
    def run(role, name, data):
        fields = {field: data.draw(texts) for field in forms[name] if data.draw(st.booleans())}
        with transaction.atomic():
            response = world.clients[role].post(reverse(name), fields)
            transaction.set_rollback(True)
        assert response.status_code < 500, (name, fields)

    run()


@st.composite
def wordings(draw):
    """A wording the form accepts, with markup in it to catch any unescaped output."""
    alphabet = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    before = draw(st.text(alphabet, max_size=60))
    after = draw(st.text(alphabet, max_size=60))
    markup = draw(st.sampled_from(NASTY[:4]))
    return f"w{before}{markup}{after}w"


def test_whatever_people_write_is_shown_escaped(world):
    alice, bob = world.clients["partner"], world.clients["other_partner"]
    dana = world.clients["therapist"]

    @settings(EXAMPLES, max_examples=30)  # eight requests each
    @given(wordings(), wordings(), st.booleans())
    def run(title, text, htmx):
        # A title is one line of printable characters (intimacy.validators); the rest is tried
        # on the wording.
        title = "".join(c for c in title if is_one_line(c))[:120]
        with transaction.atomic():
            response = alice.post(
                reverse("agreements:new_rule"),
                {"title": title, "text": text, "note": text},
                headers={"HX-Request": "true"} if htmx else {},
            )
            assert response.status_code in (200, 302), response.content[:300]
            rule = Rule.objects.filter(agreement=world.agreement).order_by("-pk").first()
            alice.post(
                reverse("agreements:change", args=[rule.pk]),
                {"title": title, "text": text + "!", "note": text},
                headers={"HX-Request": "true"},
            )
            bob.post(reverse("agreements:reply"), {"text": text, "rule": rule.pk})
            pages = [
                bob.get(reverse("agreements:agreement")),
                bob.get(reverse("agreements:history", args=[rule.pk])),
                bob.get(reverse("agreements:timeline")),
                dana.get(reverse("therapist:couple", args=[world.agreement.pk])),
                alice.get(
                    reverse("agreements:card", args=[rule.pk]), headers={"HX-Request": "true"}
                ),
            ]
            for page in pages:
                body = page.content.decode()
                assert page.status_code == 200
                for raw in NASTY[:2]:
                    assert raw not in body
            body = pages[0].content.decode()
            for line in normalize_newlines(text.strip()).split("\n"):
                if line.strip():
                    assert escape(line.strip()) in body
            transaction.set_rollback(True)

    run()


# -- oversized requests ---------------------------------------------------------------------------


def test_an_oversized_body_is_refused_with_413_and_nothing_saved(world, settings):
    alice = world.clients["partner"]
    before = snapshot()
    response = alice.post(
        reverse("agreements:new_rule"),
        {"text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)},
    )
    assert response.status_code == 413
    assert "too long" in response.content.decode().lower() or "larger" in response.content.decode()
    assert snapshot() == before
    # An upload counts too: the limit is on the whole body.
    response = alice.post(
        reverse("agreements:reply"),
        {"text": "x", "file": ("big.txt", b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))},
    )
    assert response.status_code == 413


def test_an_oversized_field_is_refused_with_a_message_and_nothing_saved(world):
    alice = world.clients["partner"]
    before = snapshot()
    response = alice.post(reverse("agreements:new_rule"), {"text": "x" * 2001})
    assert response.status_code == 422
    assert "under 2000 characters" in response.content.decode()
    response = alice.post(
        reverse("agreements:change", args=[world.proposed_rule.pk]),
        {"text": "y" * 2001, "title": "t" * 121},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert snapshot() == before


def test_too_many_fields_are_refused_cleanly(world, settings):
    alice = world.clients["partner"]
    alice.raise_request_exception = False
    before = snapshot()
    fields = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = alice.post(reverse("agreements:new_rule"), {**fields, "text": "A rule"})
    assert response.status_code == 400
    assert snapshot() == before


def test_absurd_ids_and_tokens_are_a_plain_404(world):
    alice = world.clients["partner"]
    assert alice.get(f"/agreement/rules/{10**40}/").status_code == 404
    assert alice.post(f"/agreement/rules/{10**40}/accept/", {"version": 1}).status_code == 404
    assert alice.get(f"/invitation/{'a' * 5000}/").status_code == 404
    response = alice.post(
        reverse("agreements:accept", args=[world.proposed_rule.pk]), {"version": str(10**40)}
    )
    assert response.status_code == 422
