"""The benchmark's data set (bench/run.sh): thousands of couples with their agreements, a few
therapists with many client couples, and signed-in sessions for the load tests.

    python -m bench.seed --out bench/out [--couples 2000 --therapists 5 --clients 50 ...]
        [--rules 30,100 --history-days 50,500 --scale-couples 32 --therapist-sizes 10,200]

Besides the couples some months in (nine rules in every state, six revealed check-ins), the
options for "how cost grows with the work" add couples of the same story with more rules of
their own (--rules: the rules not archived, in all), couples who lived the same story for that
many days, withdrawing, reopening and accepting again a rule each day (--history-days), and
therapists with that many client couples (--therapist-sizes, two therapists of each size).

Each kind of agreement is lived once, through agreements.stories (so through consent.py and
therapy.py, as a couple would), by a couple made for the purpose, inside a transaction that is
then rolled back; its rows are then copied in bulk, through the models (so wording is encrypted
as usual), to every couple of that kind, with their moments spread over the couple's months
together. Every state in the data set is one consent.py left, never a second encoding of it.
It only fills an empty database.
"""

import argparse
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from allauth.account.models import EmailAddress  # noqa: E402 (after django.setup)
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.cached_db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.middleware.csrf import _get_new_csrf_string  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import Couple, Partner, User  # noqa: E402
from agreements import consent, stories, therapy  # noqa: E402
from agreements.models import (  # noqa: E402
    Acceptance,
    Agreement,
    Comment,
    Event,
    Rule,
    RuleVersion,
    TherapistAccess,
)
from checkins import services as checkin_services  # noqa: E402
from checkins.models import Answer, CheckIn  # noqa: E402
from intimacy import emails  # noqa: E402
from intimacy.crypto import EncryptedTextField  # noqa: E402

SESSION_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
BATCH = 2000
STEP = timedelta(hours=3)  # between two moments of one couple's story
# The rows of one agreement, in an order in which they can be inserted.
ROWS = (Agreement, RuleVersion, Rule, Acceptance, Event, TherapistAccess, Comment, CheckIn, Answer)
# Rows whose ids are given here, because other rows of the copy point at them.
NUMBERED = (Agreement, Rule, RuleVersion, CheckIn)
# Each couple some months in has this many check-ins, every one revealed (both answers sealed).
CHECKINS = 6
# The rules not archived of "an agreement in every state" (its tenth is archived).
STORY_RULES = len(stories.EVERY_STATE) - 1
# Therapists of each size of --therapist-sizes.
THERAPISTS_PER_SIZE = 2
# What a day of the history couples is: the first partner withdraws from this rule, with a note,
# reopens it, and the second accepts it again (in force again, as the story left it).
HISTORY_RULE = "also_in_force"
HISTORY_NOTES = (
    "I want to talk about this one again.",
    "Can we look at this together tonight?",
    "Something felt different this week.",
)

# How each couple's agreement looks, in turn: most couples are some months in (every state),
# some have just linked and accepted nothing yet.
STORIES = ("every_state", "new", "every_state", "every_state", "every_state", "every_state")


class SeedRefused(Exception):
    """The database or the sizes asked for do not fit: nothing was written."""


@dataclass(frozen=True)
class Kind:
    story: str  # "every_state" or "new"
    review: str = ""  # for a therapist's client couple: "comments" or "quiet"
    visited: bool = False  # the therapist looked once (before the comments, if any)
    extra_rules: int = 0  # rules of their own besides the story's
    history_days: int = 0  # days lived after the story, a withdrawal and a new agreement each

    @property
    def pool(self) -> str:
        """The name of the couples of this size in the fixtures: "standard" for the story as it
        is, "rules30" or "days500" for the couples of --rules and --history-days."""
        if self.extra_rules:
            return f"rules{STORY_RULES + self.extra_rules}"
        if self.history_days:
            return f"days{self.history_days}"
        return "standard"


@dataclass
class Template:
    """One agreement as the services left it, to be copied."""

    rows: dict[type, list[models.Model]]
    seats: tuple[int, int]  # the pks of the couple's two partners
    couple: int
    therapist: int | None
    named: dict[str, int] = field(default_factory=dict)  # story name -> rule pk
    moments: list[datetime] = field(default_factory=list)  # every moment, in order
    sealed: tuple[int, int] = (0, 0)  # each seat's own revision (its sealed answers)


def checkins(seats: tuple[Partner, Partner]) -> None:
    """Check-ins answered by both partners, each revealed when the second one sealed."""
    a, b = seats
    for n in range(CHECKINS):
        checkin, _ = checkin_services.start(partner=(a, b)[n % 2], topic=f"Evening {n + 1}")
        for seat, overall in ((a, 4), (b, 3 + n % 3)):
            checkin_services.seal(
                partner=seat,
                checkin=checkin,
                sensation="Warm, and slower than last time.",
                emotion="Close to you, and a little shy at first.",
                want="To say what I like out loud, a little more each time.",
                overall=overall,
                wanted_to_stop="no",
            )
        checkin_services.add_reply(partner=b, checkin=checkin, text="Thank you for telling me.")


def history(seats: tuple[Partner, Partner], rule: Rule, days: int) -> None:
    """That many days of the couple's life after the story: each day the first partner withdraws
    from the rule (with a note), reopens it, and the second partner accepts it again."""
    a, b = seats
    for day in range(days):
        consent.withdraw(partner=a, rule=rule, note=HISTORY_NOTES[day % len(HISTORY_NOTES)])
        consent.reopen(partner=a, rule=rule)
        stories.accept(b, rule)


def tell(kind: Kind, n: int) -> Template:
    """One couple (and a therapist, for a client couple) lives the kind's story."""
    people = [
        User.objects.create(email=f"story{n}-{p}@bench.example", display_name=f"Story {n}{p}")
        for p in "ab"
    ]
    seats = stories.link(*people)
    named = stories.agreement_in_every_state(*seats) if kind.story == "every_state" else {}
    if kind.story == "every_state":
        checkins(seats)
    if kind.extra_rules:
        stories.rules_of_their_own(*seats, kind.extra_rules)
    if kind.history_days:
        history(seats, named[HISTORY_RULE], kind.history_days)
    therapist = None
    if kind.review:
        therapist = User.objects.create(
            email=f"story{n}-therapist@bench.example", display_name="Dr Story", is_therapist=True
        )
        if kind.review == "comments":
            first = stories.rules_of(seats[0])[0]
            stories.therapist_review(seats, therapist, [first], visited=kind.visited)
        else:
            access = stories.grant_therapist(seats, therapist)
            if kind.visited:
                therapy.record_view(access)
    agreement = stories.agreement_of(seats[0])
    scope = {
        Agreement: Agreement.objects.filter(pk=agreement.pk),
        RuleVersion: RuleVersion.objects.filter(rule__agreement=agreement).order_by("pk"),
        Rule: Rule.objects.filter(agreement=agreement).order_by("pk"),
        Acceptance: Acceptance.objects.filter(version__rule__agreement=agreement).order_by("pk"),
        Event: Event.objects.filter(agreement=agreement).order_by("pk"),
        TherapistAccess: TherapistAccess.objects.filter(agreement=agreement).order_by("pk"),
        Comment: Comment.objects.filter(agreement=agreement).order_by("pk"),
        CheckIn: CheckIn.objects.filter(couple_id=seats[0].couple_id).order_by("pk"),
        Answer: Answer.objects.filter(checkin__couple_id=seats[0].couple_id).order_by("pk"),
    }
    rows = {model: list(query) for model, query in scope.items()}
    for access in rows[TherapistAccess]:
        # A client link is one-time (its digest is unique): the copies are accesses without one.
        access.client_link_id = None
    moments = sorted(
        {
            getattr(row, f.attname)
            for model, found in rows.items()
            for row in found
            for f in model._meta.concrete_fields
            if isinstance(f, models.DateTimeField) and getattr(row, f.attname) is not None
        }
    )
    return Template(
        rows=rows,
        seats=(seats[0].pk, seats[1].pk),
        couple=seats[0].couple_id,
        therapist=therapist.pk if therapist else None,
        named={name: rule.pk for name, rule in named.items()},
        moments=moments,
        sealed=tuple(Partner.objects.get(pk=seat.pk).sealed_revision for seat in seats),
    )


def copy(row: models.Model, ids: dict, when: dict) -> models.Model:
    """The row for another couple: its keys through ids ((model, old pk) -> new pk; a primary key
    not in ids is left for the database to give), its moments through when."""
    model = type(row)
    values = {}
    for f in model._meta.concrete_fields:
        value = getattr(row, f.attname)
        if f.primary_key:
            value = ids.get((model, value))
        elif f.is_relation and value is not None:
            value = ids[(f.related_model, value)]
        elif isinstance(f, models.DateTimeField) and value is not None:
            value = when[value]
        values[f.attname] = value
    return model(**values)


def insert(model, rows: list) -> None:
    """bulk_create, but through COPY on PostgreSQL: several times faster for tens of thousands of
    rows. Values go through each field's get_db_prep_save, so wording is encrypted; the same
    wording is encrypted once and its token reused (each token decrypts on its own)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows, batch_size=BATCH)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and rows[0].pk is None)]
    tokens: dict[str, str] = {}

    def prepared(field, row):
        value = getattr(row, field.attname)
        if isinstance(field, EncryptedTextField) and value:
            if value not in tokens:
                tokens[value] = field.get_db_prep_save(value, connection)
            return tokens[value]
        return field.get_db_prep_save(value, connection)

    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copier,
    ):
        for row in rows:
            copier.write_row([prepared(f, row) for f in fields])


class Seed:
    def __init__(self, options: argparse.Namespace):
        self.options = options
        self.now = timezone.now()
        self.pending_sessions: list[Session] = []
        self.backend = settings.AUTHENTICATION_BACKENDS[0]

    def run(self) -> str:
        o = self.options
        if User.objects.exists():
            raise SeedRefused("bench.seed only fills an empty database.")
        sizes = self.therapist_sizes()
        clients = sum(size * count for size, count in sizes.items())
        scaled = o.scale_couples * (len(o.rules) + len(o.history_days))
        needed = o.page_sessions + (o.action_couples or 0) + 1
        if o.couples - scaled < max(2 * needed, clients):
            raise SeedRefused(
                f"At least {scaled + max(2 * needed, clients)} couples are needed: {scaled} for"
                f" the sizes, then {clients} clients of therapists and twice {needed} for the"
                " page sessions and the acting couples."
            )
        if any(n <= STORY_RULES for n in o.rules):
            raise SeedRefused(f"--rules counts every rule not archived: more than {STORY_RULES}.")
        o.out.mkdir(parents=True, exist_ok=True)
        with transaction.atomic():
            therapists = self.therapists(sizes)
            kinds = self.kinds(o.couples, therapists)
            users, seats = self.people(o.couples, kinds)
            templates = self.templates({kind for kind, _ in kinds.values()})
            agreements, named = self.agreements(seats, kinds, templates)
        fixtures = self.sessions(users, seats, agreements, kinds, named, therapists)
        for name, lines in fixtures.pop("lines").items():
            (o.out / f"{name}.txt").write_text("\n".join(lines) + "\n")
        (o.out / "fixtures.json").write_text(json.dumps(fixtures, indent=1))
        pools = ", ".join(
            f"{p['couples']} with {p['rules']} rules and {p['days']:.0f} days of history"
            for name, p in fixtures["pools"].items()
            if name != "standard"
        )
        return (
            f"{o.couples} couples, {Rule.objects.count()} rules, {RuleVersion.objects.count()}"
            f" versions, {Acceptance.objects.count()} acceptances, {Event.objects.count()} events,"
            f" {CheckIn.objects.count()} check-ins,"
            f" {fixtures['therapists']} therapists with {o.clients} client couples each"
            + "".join(
                f", {n} with {size}"
                for size, n in sizes.items()
                if size != o.clients or n != fixtures["therapists"]
            )
            + (f"; for the sizes {pools}" if pools else "")
            + f"; told through {len(templates)} stories; fixtures in {o.out}"
        )

    # -- people --------------------------------------------------------------------------------

    def therapist_sizes(self) -> dict[int, int]:
        """How many therapists have how many client couples: --therapists of --clients, and two
        of each --therapist-sizes."""
        o = self.options
        sizes = {o.clients: o.therapists} if o.therapists and o.clients else {}
        for size in o.therapist_sizes:
            sizes[size] = sizes.get(size, 0) + THERAPISTS_PER_SIZE
        return sizes

    def people(self, count: int, kinds: dict[int, tuple[Kind, User | None]]):
        """Both partners of each couple. A couple is some months together, or as long as its
        history needs, so that every moment of its copy is in the past."""
        unusable = make_password(None)  # nobody here signs in with a password
        users = User.objects.bulk_create(
            [
                User(
                    email=f"partner{i}@bench.example",
                    display_name=f"Partner {i}",
                    password=unusable,
                    date_joined=self.now - timedelta(days=400),
                )
                for i in range(count * 2)
            ],
            batch_size=BATCH,
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=BATCH,
        )
        couples = Couple.objects.bulk_create(
            [
                Couple(created_at=self.now - timedelta(days=self.together(i, kinds[i][0])))
                for i in range(count)
            ],
            batch_size=BATCH,
        )
        seats = Partner.objects.bulk_create(
            [
                Partner(couple=c, user=users[2 * i + s], joined_at=c.created_at)
                for i, c in enumerate(couples)
                for s in (0, 1)
            ],
            batch_size=BATCH,
        )
        return users, [(seats[2 * i], seats[2 * i + 1]) for i in range(count)]

    @staticmethod
    def together(i: int, kind: Kind) -> int:
        """Days the i-th couple has been together: some months, or its history and two days."""
        return kind.history_days + 2 if kind.history_days else 300 - i % 250

    def therapists(self, sizes: dict[int, int]) -> dict[int, list[User]]:
        """The therapists, by their number of client couples."""
        found: dict[int, list[User]] = {}
        t = 0
        for size, count in sizes.items():
            for _ in range(count):
                user = User.objects.create(
                    email=f"therapist{t}@bench.example",
                    display_name=f"Dr Therapist {t}",
                    practice_name="Bench Practice",
                    is_therapist=True,
                    password=make_password(None),
                )
                EmailAddress.objects.create(
                    user=user, email=user.email, verified=True, primary=True
                )
                TOTP.activate(user, generate_totp_secret())  # two-factor on, as therapists must
                found.setdefault(size, []).append(user)
                t += 1
        return found

    # -- agreements ----------------------------------------------------------------------------

    def kinds(
        self, count: int, therapists: dict[int, list[User]]
    ) -> dict[int, tuple[Kind, User | None]]:
        """Each couple's kind, and its therapist. The therapists' client couples come first, so
        that some of the pages loaded in the benchmark show a therapist's comments; a third of
        the clients have comments, half of them were visited already ("what is new" has work).
        Then the couples of each size of --rules and --history-days, then everyone else."""
        o = self.options
        slots = [
            (therapist, c)
            for size, found in therapists.items()
            for therapist in found
            for c in range(size)
        ]
        sized = [Kind("every_state", extra_rules=n - STORY_RULES) for n in o.rules]
        sized += [Kind("every_state", history_days=days) for days in o.history_days]
        scaled = [kind for kind in sized for _ in range(o.scale_couples)]
        found = {}
        for i in range(count):
            story = STORIES[i % len(STORIES)]
            if i < len(slots):
                therapist, c = slots[i]
                review = "comments" if c % 3 == 0 else "quiet"
                found[i] = (Kind(story, review, bool(c % 2)), therapist)
            elif i - len(slots) < len(scaled):
                found[i] = (scaled[i - len(slots)], None)
            else:
                found[i] = (Kind(story), None)
        return found

    def templates(self, kinds: set[Kind]) -> dict[Kind, Template]:
        """Every kind lived once, then undone: only the rows read stay."""
        told = {}
        with transaction.atomic(), emails.muted():
            for n, kind in enumerate(sorted(kinds, key=repr)):
                told[kind] = tell(kind, n)
            transaction.set_rollback(True)
        return told

    def agreements(self, seats, kinds, templates):
        """Every couple's copy of its kind's template. Rules and versions point at each other,
        so their ids are given here (foreign keys are checked at commit) and the sequences moved
        past them after. A couple's moments follow each other STEP apart from the day they
        linked (closer, if they would not fit before yesterday); a history couple's are spread
        evenly over its days, up to a day ago."""
        next_id = {
            model: (model.objects.aggregate(n=Max("pk"))["n"] or 0) + 1 for model in NUMBERED
        }
        made: dict[type, list] = {model: [] for model in ROWS}
        named = []
        for i, pair in enumerate(seats):
            kind, therapist = kinds[i]
            template = templates[kind]
            ids = {
                (Couple, template.couple): pair[0].couple_id,
                (Partner, template.seats[0]): pair[0].pk,
                (Partner, template.seats[1]): pair[1].pk,
            }
            if therapist is not None:
                ids[(User, template.therapist)] = therapist.pk
            for model in NUMBERED:
                for row in template.rows[model]:
                    ids[(model, row.pk)] = next_id[model]
                    next_id[model] += 1
            start = pair[0].joined_at
            spread = (self.now - timedelta(days=1) - start) / max(len(template.moments), 1)
            step = spread if kind.history_days else min(STEP, spread)
            when = {moment: start + n * step for n, moment in enumerate(template.moments)}
            for model in ROWS:
                for row in template.rows[model]:
                    copied = copy(row, ids, when)
                    if model is TherapistAccess:
                        copied.email = therapist.email
                    made[model].append(copied)
            named.append({name: ids[(Rule, pk)] for name, pk in template.named.items()})
        for model in ROWS:
            insert(model, made[model])
        # Each seat's own revision (its sealed answers), as its template's seat has it.
        for i, pair in enumerate(seats):
            for seat, sealed in zip(pair, templates[kinds[i][0]].sealed, strict=True):
                seat.sealed_revision = sealed
        Partner.objects.bulk_update([s for pair in seats for s in pair], ["sealed_revision"])
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(NUMBERED)):
                cursor.execute(sql)
        return made[Agreement], named

    # -- sessions ------------------------------------------------------------------------------

    def session(self, user: User) -> str:
        """A signed-in session, as django.contrib.auth.login would leave it."""
        now = int(self.now.timestamp())
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: self.backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            "started_at": now,
            "seen_at": now,
        }
        key = get_random_string(32, SESSION_CHARS)
        self.pending_sessions.append(
            Session(
                session_key=key,
                session_data=SessionStore().encode(data),
                expire_date=self.now + timedelta(seconds=settings.SESSION_COOKIE_AGE),
            )
        )
        return key

    def acting(self, pair, rule: int, version: int, checkin: int, by_pk) -> str:
        """A couple who act: both partners signed in, the resting rule the first one withdrew from
        and the wording both had agreed, and their newest revealed check-in."""
        a, b = (by_pk[s.user_id] for s in pair)
        return " ".join(
            [
                self.session(a),
                _get_new_csrf_string(),
                self.session(b),
                _get_new_csrf_string(),
                str(rule),
                str(version),
                str(checkin),
            ]
        )

    def sessions(self, users, seats, agreements, kinds, named, therapists) -> dict:
        o = self.options
        by_pk = {u.pk: u for u in users}
        lived_in = [
            i
            for i in range(len(seats))
            if kinds[i][0].story == "every_state" and kinds[i][0].pool == "standard"
        ]
        spare = lived_in.pop()  # the couple of the two-server checks
        page_pool = lived_in[: o.page_sessions]
        action_pool = lived_in[o.page_sessions :]
        if o.action_couples is not None:
            action_pool = action_pool[: o.action_couples]
        if not action_pool or (o.action_couples and len(action_pool) < o.action_couples):
            raise SeedRefused("Not enough couples for the action pool: raise --couples.")
        pools = {"standard": action_pool}
        if o.scale_couples:
            # The smallest size of "how cost grows": couples of the story as it is, with no
            # therapist (as the couples of the other sizes), most of them acting couples too.
            plain = [i for i in lived_in[o.page_sessions :] if kinds[i][1] is None]
            plain = plain[: o.scale_couples]
            pools["base"] = plain
        for i, (kind, _) in kinds.items():
            if kind.pool != "standard":
                pools.setdefault(kind.pool, []).append(i)
        acted_on = [named[i]["paused"] for pool in pools.values() for i in pool]
        acted_on.append(named[spare]["waiting_for_b"])
        # The wording each rule acted on waits with: a proposal's, or a resting rule's agreed one.
        pending = {
            pk: waiting or agreed
            for pk, waiting, agreed in Rule.objects.filter(pk__in=acted_on).values_list(
                "pk", "pending_version_id", "agreed_version_id"
            )
        }
        # Each couple's newest revealed check-in.
        revealed = dict(
            CheckIn.objects.filter(revealed_at__isnull=False)
            .values("couple_id")
            .annotate(newest=Max("pk"))
            .values_list("couple_id", "newest")
        )

        # Page loads: one partner of each couple, with the ETag their page holds and the couple's
        # newest revealed check-in.
        page_lines = []
        sealed = dict(Partner.objects.values_list("pk", "sealed_revision"))
        for n, i in enumerate(page_pool):
            seat = seats[i][n % 2]
            user = by_pk[seat.user_id]
            seat.sealed_revision = sealed[seat.pk]
            page_lines.append(
                f"{self.session(user)} {_get_new_csrf_string()} {agreements[i].etag_for(seat)}"
                f" {revealed[seats[i][0].couple_id]}"
            )

        # Acting couples, by pool: both partners act on their paused rule.
        lines = {"page": page_lines}
        for name, pool in pools.items():
            lines["actions" if name == "standard" else f"actions-{name}"] = [
                self.acting(
                    seats[i],
                    named[i]["paused"],
                    pending[named[i]["paused"]],
                    revealed[seats[i][0].couple_id],
                    by_pk,
                )
                for i in pool
            ]

        # Therapists: the main ones (--therapists of --clients) in therapist.txt, with their
        # client couples' agreements for a therapist's rounds in rounds.txt; the other sizes in
        # therapist-<size>.txt.
        clients: dict[int, list[int]] = {}
        for i, (_, therapist) in kinds.items():
            if therapist is not None:
                clients.setdefault(therapist.pk, []).append(agreements[i].pk)
        for size, found in therapists.items():
            sessions = [self.session(t) for t in found]
            if size == o.clients and o.therapists:
                lines["therapist"] = sessions[: o.therapists]
                lines["rounds"] = [
                    " ".join([session, *map(str, clients[t.pk])])
                    for session, t in zip(sessions, found, strict=True)
                ][: o.therapists]
                sessions = sessions[o.therapists :]
            if sessions:
                lines[f"therapist-{size}"] = sessions

        # The two-server checks: a couple who act on one server and poll the other, and one
        # person who signs in with a password.
        password = secrets.token_urlsafe(16)
        login_user = by_pk[seats[spare][0].user_id]
        # A new address each run: rate limits in a shared cache outlive the database.
        login_user.email = f"signin-{secrets.token_hex(4)}@bench.example"
        login_user.set_password(password)
        login_user.save(update_fields=["email", "password"])
        EmailAddress.objects.filter(user=login_user).update(email=login_user.email)
        a, b = (by_pk[s.user_id] for s in seats[spare])
        # The rule the first partner accepted: the second partner's acceptance brings it in force.
        waiting = named[spare]["waiting_for_b"]
        scaleout = {
            "alice": {"session": self.session(a), "csrf": _get_new_csrf_string()},
            "bob": {"session": self.session(b), "csrf": _get_new_csrf_string()},
            "rule": waiting,
            "version": pending[waiting],
            # Alice's open page polls (bench/checks.py): her ETag, with her own revision.
            "etag": agreements[spare].etag_for(Partner.objects.get(pk=seats[spare][0].pk)),
            "login_email": login_user.email,
            "login_password": password,
        }
        Session.objects.bulk_create(self.pending_sessions, batch_size=BATCH)
        return {
            "couples": len(agreements),
            "rules": Rule.objects.count(),
            "therapists": len(therapists.get(o.clients, [])[: o.therapists]),
            "clients_each": o.clients,
            "therapist_sizes": {str(size): len(found) for size, found in therapists.items()},
            "pools": {
                name: self.describe(
                    [agreements[i] for i in (page_pool + pool if name == "standard" else pool)]
                )
                for name, pool in pools.items()
            },
            "scaleout": scaleout,
            "lines": lines,
        }

    def describe(self, agreements: list[Agreement]) -> dict:
        """What the couples of a pool have: rules not archived, events and the days their
        history spans, per couple (the first one's without a therapist: all copies of a kind
        are alike)."""
        ids = [a.pk for a in agreements]
        first = (
            Agreement.objects.filter(pk__in=ids, therapist_accesses__isnull=True)
            .order_by("pk")
            .first()
            or agreements[0]
        )
        span = Event.objects.filter(agreement=first).aggregate(
            first=models.Min("created_at"), last=models.Max("created_at")
        )
        return {
            "couples": len(agreements),
            "rules": first.rules.exclude(state=Rule.State.ARCHIVED).count(),
            "events": Event.objects.filter(agreement=first).count(),
            "days": (span["last"] - span["first"]).total_seconds() / 86400 if span["last"] else 0,
        }


def numbers(text: str) -> list[int]:
    """ "30,100" -> [30, 100]; "" -> []."""
    return [int(part) for part in text.split(",") if part.strip()]


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n")[0])
    found.add_argument("--couples", type=int, default=2000)
    found.add_argument("--therapists", type=int, default=5)
    found.add_argument("--clients", type=int, default=50, help="client couples each")
    found.add_argument(
        "--page-sessions", type=int, default=200, help="signed-in partners for page loads"
    )
    found.add_argument(
        "--action-couples",
        type=int,
        default=None,
        help="couples whose partners act during the load test (default: every couple some"
        " months in left after the page sessions)",
    )
    found.add_argument(
        "--rules",
        type=numbers,
        default=[],
        help="comma-separated sizes: couples with this many rules not archived (e.g. 30,100)",
    )
    found.add_argument(
        "--history-days",
        type=numbers,
        default=[],
        help="comma-separated sizes: couples with this many days of history (e.g. 50,500)",
    )
    found.add_argument(
        "--scale-couples",
        type=int,
        default=0,
        help="couples of each size of --rules and --history-days",
    )
    found.add_argument(
        "--therapist-sizes",
        type=numbers,
        default=[],
        help=f"comma-separated sizes: {THERAPISTS_PER_SIZE} more therapists with this many"
        " client couples each (e.g. 10,200)",
    )
    found.add_argument("--out", type=Path, required=True, help="folder for the fixtures")
    return found


def seed(argv: list[str]) -> str:
    """Fills the empty database; the one-line summary. SeedRefused if it cannot."""
    return Seed(parser().parse_args(argv)).run()


if __name__ == "__main__":
    try:
        print(seed(sys.argv[1:]))
    except SeedRefused as refused:
        sys.exit(f"bench.seed: {refused}")
