"""The benchmark's data set (bench/run.sh): thousands of couples with their agreements in several
states, a few therapists with many client couples, and signed-in sessions for the load tests.

It writes rows in bulk, straight through the models (so rule wording is encrypted as usual),
instead of calling consent.py thousands of times: the states it writes are the ones consent.py
would have left. It only fills an empty database.
"""

import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from django.utils.crypto import get_random_string

from accounts.models import Couple, Partner, User
from agreements.defaults import DEFAULT_RULES
from agreements.models import Acceptance, Agreement, Comment, Event, Rule, RuleVersion
from agreements.models import TherapistAccess as Access
from intimacy.crypto import EncryptedTextField

State = Rule.State
Kind = Event.Kind
BACKEND = "django.contrib.auth.backends.ModelBackend"
SESSION_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
BATCH = 2000

# How each couple's agreement looks, in turn: new couples who have accepted nothing yet, and
# couples some months in, with rules in force, a change waiting, a paused rule, a proposal
# waiting for one partner, a declined or archived rule and a few rules of their own.
PATTERNS = ("established", "new", "established", "reworded", "established", "own_rules")


@dataclass
class PlannedRule:
    position: int
    state: str
    versions: list[tuple[str, str]]  # (title, text), oldest first
    # What happened, in order: (kind, seat index 0/1 or None, version index or None).
    story: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    # Live acceptances (seat, version index) and withdrawn ones.
    live: list[tuple[int, int]] = field(default_factory=list)
    withdrawn: list[tuple[int, int]] = field(default_factory=list)
    current: int | None = None
    pending: int | None = None
    # A resting rule: the version both had agreed and the seat that withdrew.
    agreed: int | None = None
    withdrawn_by: int | None = None
    # The seat that proposed what waits (None for the defaults).
    proposed_by: int | None = None


def _in_force(position: int, title: str, text: str) -> PlannedRule:
    return PlannedRule(
        position,
        State.ACTIVE,
        [(title, text)],
        story=[(Kind.ACCEPTED, 0, 0), (Kind.ACCEPTED, 1, 0), (Kind.IN_FORCE, 1, 0)],
        live=[(0, 0), (1, 0)],
        current=0,
    )


def plan_agreement(pattern: str) -> list[PlannedRule]:
    """The rules of one agreement in the given pattern, positions 1 and up."""
    rules = []
    for position, (title, text) in enumerate(DEFAULT_RULES, start=1):
        if pattern == "new":
            rules.append(PlannedRule(position, State.PROPOSED, [(title, text)], pending=0))
            continue
        if position <= 5:
            rule = _in_force(position, title, text)
            if pattern == "reworded" and position == 3:
                # A change both accepted: version 2 in force, version 1 superseded.
                rule.versions.append((title, text + " We check in with each other afterwards."))
                rule.story += [
                    (Kind.PROPOSED_CHANGE, 0, 1),
                    (Kind.ACCEPTED, 1, 1),
                    (Kind.IN_FORCE, 1, 1),
                ]
                rule.withdrawn, rule.live, rule.current = [(0, 0), (1, 0)], [(0, 1), (1, 1)], 1
        elif position == 6:
            # In force, with a change proposed by the first partner and waiting for the second.
            rule = _in_force(position, title, text)
            rule.versions.append((title, text + " Either of us can ask for a break first."))
            rule.story.append((Kind.PROPOSED_CHANGE, 0, 1))
            rule.live.append((0, 1))
            rule.pending = 1
            rule.proposed_by = 0
        elif position == 7:
            # Was in force; the second partner withdrew: resting with the agreed wording, both
            # acceptances ended, nothing waiting.
            rule = _in_force(position, title, text)
            rule.state = State.PAUSED
            rule.story.append((Kind.WITHDREW, 1, 0))
            rule.withdrawn, rule.live, rule.current, rule.pending = rule.live, [], None, None
            rule.agreed, rule.withdrawn_by = 0, 1
        elif position == 8:
            # Accepted by the first partner, waiting for the second.
            rule = PlannedRule(
                position,
                State.PROPOSED,
                [(title, text)],
                story=[(Kind.ACCEPTED, 0, 0)],
                live=[(0, 0)],
                pending=0,
            )
        else:
            archived = pattern == "own_rules"
            rule = PlannedRule(
                position,
                State.ARCHIVED if archived else State.DECLINED,
                [(title, text)],
                story=[(Kind.ARCHIVED if archived else Kind.DECLINED, 1, 0)],
            )
        rules.append(rule)
    if pattern == "own_rules":
        for extra in range(2):
            rules.append(
                PlannedRule(
                    len(rules) + 1,
                    State.PROPOSED,
                    [
                        (
                            f"Our own rule {extra + 1}",
                            "On a night we planned together, either of us can still say no, "
                            "and we keep the evening for each other anyway.",
                        )
                    ],
                    story=[(Kind.PROPOSED_RULE, extra % 2, 0)],
                    live=[(extra % 2, 0)],
                    pending=0,
                    proposed_by=extra % 2,
                )
            )
    return rules


def _author(planned: PlannedRule, index: int, pair: tuple[Partner, Partner]) -> Partner | None:
    """Who proposed this version; the default rules' first versions come from no one."""
    for kind, seat, version in planned.story:
        if kind in (Kind.PROPOSED_RULE, Kind.PROPOSED_CHANGE) and version == index:
            return pair[seat]
    return None


def _insert(model, rows: list) -> None:
    """bulk_create, but through COPY on PostgreSQL: several times faster for tens of thousands of
    rows. Values go through each field's get_db_prep_save, so wording is encrypted; the same
    wording is encrypted once and its token reused (each token decrypts on its own)."""
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
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([prepared(f, row) for f in fields])


class Command(BaseCommand):
    help = "Fills an empty database with the benchmark's data set and signed-in sessions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--couples", type=int, default=2000)
        parser.add_argument("--therapists", type=int, default=5)
        parser.add_argument("--clients", type=int, default=50, help="client couples each")
        parser.add_argument(
            "--page-sessions", type=int, default=200, help="signed-in partners for page loads"
        )
        parser.add_argument(
            "--action-couples",
            type=int,
            default=400,
            help="couples whose partners accept and withdraw during the load test",
        )
        parser.add_argument("--out", type=Path, required=True, help="folder for the fixtures")

    def handle(self, *args, **options) -> None:
        if User.objects.exists():
            raise CommandError("bench_seed only fills an empty database.")
        count = options["couples"]
        needed = options["page_sessions"] + options["action_couples"] + 1
        if count < 2 * needed or count < options["therapists"] * options["clients"]:
            raise CommandError(
                f"At least {2 * needed} couples (and one per therapist client) are needed."
            )
        self.now = timezone.now()
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        patterns = [PATTERNS[i % len(PATTERNS)] for i in range(count)]
        with transaction.atomic():
            users, seats = self._people(count)
            therapists = self._therapists(options["therapists"])
            agreements, rules = self._agreements(seats, patterns, therapists, options["clients"])
        fixtures = self._sessions(users, seats, agreements, patterns, rules, therapists, options)
        self._write(out, fixtures)
        self.stdout.write(
            f"{count} couples, {Rule.objects.count()} rules, {RuleVersion.objects.count()}"
            f" versions, {Acceptance.objects.count()} acceptances, {Event.objects.count()} events,"
            f" {len(therapists)} therapists with {options['clients']} client couples each;"
            f" fixtures in {out}"
        )

    # -- people ------------------------------------------------------------------------------

    def _people(self, count: int):
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
            [Couple(created_at=self.now - timedelta(days=300 - i % 250)) for i in range(count)],
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

    def _therapists(self, count: int) -> list[User]:
        therapists = []
        for t in range(count):
            user = User.objects.create(
                email=f"therapist{t}@bench.example",
                display_name=f"Dr Therapist {t}",
                practice_name="Bench Practice",
                is_therapist=True,
                password=make_password(None),
            )
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
            TOTP.activate(user, generate_totp_secret())  # two-factor on, as therapists must
            therapists.append(user)
        return therapists

    # -- agreements --------------------------------------------------------------------------

    def _agreements(self, seats, patterns, therapists, clients):
        """Every agreement with its rules, versions, acceptances and events, the therapists'
        accesses and comments. Rules and versions point at each other, so their ids are given
        here (foreign keys are checked at commit) and the sequences moved past them after."""
        next_agreement = (Agreement.objects.aggregate(n=Max("pk"))["n"] or 0) + 1
        next_rule = (Rule.objects.aggregate(n=Max("pk"))["n"] or 0) + 1
        next_version = (RuleVersion.objects.aggregate(n=Max("pk"))["n"] or 0) + 1
        agreements, rules, versions, acceptances, events = [], [], [], [], []
        accesses, comments, by_agreement = [], [], []
        # The therapists' client couples come first, so that some of the pages loaded in the
        # benchmark show a therapist's comments.
        client_of = {
            t * clients + c: (therapist, c)
            for t, therapist in enumerate(therapists)
            for c in range(clients)
        }
        for i, (pair, pattern) in enumerate(zip(seats, patterns, strict=True)):
            created = pair[0].joined_at
            agreement = Agreement(
                id=next_agreement + i, couple_id=pair[0].couple_id, created_at=created
            )
            agreements.append(agreement)
            own_events = [Event(agreement=agreement, kind=Kind.CREATED, created_at=created)]
            moment = created
            made = []
            for planned in plan_agreement(pattern):
                rule = Rule(
                    id=next_rule,
                    agreement=agreement,
                    position=planned.position,
                    state=planned.state,
                    created_at=created,
                )
                next_rule += 1
                own = []
                for index, (title, text) in enumerate(planned.versions):
                    own.append(
                        RuleVersion(
                            id=next_version,
                            rule_id=rule.id,
                            number=index + 1,
                            previous_id=own[-1].id if own else None,
                            title=title,
                            text=text,
                            author=_author(planned, index, pair),
                            created_at=created + timedelta(days=index),
                        )
                    )
                    next_version += 1
                for kind, seat, index in planned.story:
                    moment += timedelta(hours=7)
                    own_events.append(
                        Event(
                            agreement=agreement,
                            rule_id=rule.id,
                            version_id=own[index].id,
                            partner=pair[seat],
                            kind=kind,
                            created_at=moment,
                        )
                    )
                acceptances += [
                    Acceptance(version_id=own[index].id, partner=pair[seat], created_at=moment)
                    for seat, index in planned.live
                ]
                acceptances += [
                    Acceptance(
                        version_id=own[index].id,
                        partner=pair[seat],
                        created_at=moment - timedelta(days=2),
                        withdrawn_at=moment,
                    )
                    for seat, index in planned.withdrawn
                ]
                rule.latest_version_id = own[-1].id
                if planned.current is not None:
                    rule.current_version_id = own[planned.current].id
                    rule.in_force_since = moment
                if planned.pending is not None:
                    rule.pending_version_id = own[planned.pending].id
                if planned.proposed_by is not None:
                    rule.proposed_by = pair[planned.proposed_by]
                if planned.agreed is not None:
                    rule.agreed_version_id = own[planned.agreed].id
                    rule.withdrawn_by = pair[planned.withdrawn_by]
                    rule.withdrawn_at = moment
                versions += own
                made.append(rule)
            if i in client_of:
                therapist, c = client_of[i]
                granted = self.now - timedelta(days=30 + c)
                accesses.append(
                    Access(
                        agreement=agreement,
                        therapist=therapist,
                        email=therapist.email,
                        status=Access.Status.ACTIVE,
                        requested_by=pair[0],
                        approved_by=pair[1],
                        requested_at=granted - timedelta(days=1),
                        granted_at=granted,
                        # Half of them visited already, so "what is new" has work to do.
                        last_viewed_at=granted + timedelta(days=3) if c % 2 else None,
                    )
                )
                own_events += [
                    Event(
                        agreement=agreement,
                        partner=pair[0],
                        kind=Kind.ACCESS_REQUESTED,
                        created_at=granted - timedelta(days=1),
                    ),
                    Event(
                        agreement=agreement,
                        partner=pair[1],
                        therapist=therapist,
                        kind=Kind.ACCESS_GRANTED,
                        created_at=granted,
                    ),
                ]
                if c % 3 == 0:
                    said = [
                        (None, "How do you each notice, in the moment, that it is not good?"),
                        (pair[0], "We agreed on a word we say when it is not good any more."),
                    ]
                    for day, (partner, text) in enumerate(said, start=4):
                        comments.append(
                            Comment(
                                agreement=agreement,
                                rule_id=made[0].id,
                                partner=partner,
                                therapist=None if partner else therapist,
                                text=text,
                                created_at=granted + timedelta(days=day),
                            )
                        )
                        own_events.append(
                            Event(
                                agreement=agreement,
                                rule_id=made[0].id,
                                partner=partner,
                                therapist=None if partner else therapist,
                                kind=Kind.COMMENTED,
                                created_at=granted + timedelta(days=day),
                            )
                        )
            # consent.py bumps the revision with every event.
            agreement.revision = len(own_events)
            events += own_events
            rules += made
            by_agreement.append(made)

        for model, rows in [
            (Agreement, agreements),
            (RuleVersion, versions),
            (Rule, rules),
            (Acceptance, acceptances),
            (Event, events),
            (Access, accesses),
            (Comment, comments),
        ]:
            _insert(model, rows)
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Agreement, Rule, RuleVersion]
            ):
                cursor.execute(sql)
        return agreements, by_agreement

    # -- sessions ----------------------------------------------------------------------------

    def _session(self, user: User) -> str:
        """A signed-in session, as django.contrib.auth.login would leave it."""
        now = int(self.now.timestamp())
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: BACKEND,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            "started_at": now,
            "seen_at": now,
        }
        key = get_random_string(32, SESSION_CHARS)
        self._pending_sessions.append(
            Session(
                session_key=key,
                session_data=SessionStore().encode(data),
                expire_date=self.now + timedelta(seconds=settings.SESSION_COOKIE_AGE),
            )
        )
        return key

    def _sessions(self, users, seats, agreements, patterns, rules, therapists, options) -> dict:
        self._pending_sessions = []
        by_pk = {u.pk: u for u in users}
        established = [i for i, p in enumerate(patterns) if p == "established"]
        page_pool = established[: options["page_sessions"]]
        action_pool = established[options["page_sessions"] :][: options["action_couples"]]
        if len(action_pool) < options["action_couples"]:
            raise CommandError("Not enough couples for the action pool: raise --couples.")

        # Page loads: one partner of each couple, with the ETag their page holds.
        page_lines = []
        for n, i in enumerate(page_pool):
            user = by_pk[seats[i][n % 2].user_id]
            page_lines.append(
                f"{self._session(user)} {_get_new_csrf_string()} {agreements[i].etag}"
            )

        # Accept / withdraw: both partners of each couple act on their paused rule (position 7).
        action_lines = []
        for i in action_pool:
            rule = rules[i][6]
            assert rule.state == State.PAUSED
            a, b = (by_pk[s.user_id] for s in seats[i])
            action_lines.append(
                " ".join(
                    [
                        self._session(a),
                        _get_new_csrf_string(),
                        self._session(b),
                        _get_new_csrf_string(),
                        str(rule.pk),
                        # The wording both had agreed (the rule rests: nothing waits on it).
                        str(rule.agreed_version_id),
                    ]
                )
            )

        therapist_lines = [self._session(t) for t in therapists]

        # The two-server checks: a couple who act on one server and poll the other, and one
        # person who signs in with a password.
        spare = established[options["page_sessions"] + options["action_couples"]]
        password = secrets.token_urlsafe(16)
        login_user = by_pk[seats[spare][0].user_id]
        # A new address each run: rate limits in a shared cache outlive the database.
        login_user.email = f"signin-{secrets.token_hex(4)}@bench.example"
        login_user.set_password(password)
        login_user.save(update_fields=["email", "password"])
        EmailAddress.objects.filter(user=login_user).update(email=login_user.email)
        a, b = (by_pk[s.user_id] for s in seats[spare])
        # The rule waiting for the second partner (position 8).
        waiting = rules[spare][7]
        scaleout = {
            "alice": {"session": self._session(a), "csrf": _get_new_csrf_string()},
            "bob": {"session": self._session(b), "csrf": _get_new_csrf_string()},
            "rule": waiting.pk,
            "version": waiting.pending_version_id,
            "etag": agreements[spare].etag,
            "login_email": login_user.email,
            "login_password": password,
        }
        Session.objects.bulk_create(self._pending_sessions, batch_size=BATCH)
        return {
            "couples": len(agreements),
            "rules": sum(len(made) for made in rules),
            "therapists": len(therapists),
            "clients_each": options["clients"],
            "scaleout": scaleout,
            "lines": {"page": page_lines, "actions": action_lines, "therapist": therapist_lines},
        }

    def _write(self, out: Path, fixtures: dict) -> None:
        """One line per signed-in person for the wrk scripts, and the rest as JSON."""
        for name, lines in fixtures.pop("lines").items():
            (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
        (out / "fixtures.json").write_text(json.dumps(fixtures, indent=1))
