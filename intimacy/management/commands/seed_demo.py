"""Demo data for development: three couples and a therapist, idempotent. Never in production.
Above the apps (it tells a story in each of them), so in the project package."""

import secrets

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import linking, profile
from accounts.models import Invitation, User
from agreements import drafts, people, stories
from checkins.stories import seed_demo_checkins
from intimacy import emails

PEOPLE = {
    "alice@example.com": ("Alice", False),
    "bob@example.com": ("Bob", False),
    "carol@example.com": ("Carol", False),
    "dave@example.com": ("Dave", False),
    "dana@example.com": ("Dr Dana Reyes", True),
    # Someone new, alone: her first minute (the nine rules, a draft, an invitation waiting).
    "erin@example.com": ("Erin", False),
    # A couple who use the app in Spanish: their agreement started in Lucía's language.
    "lucia@example.com": ("Lucía", False),
    "mateo@example.com": ("Mateo", False),
}
# Each person's own language (blank: the browser's). Bob reads German while Alice reads English:
# one couple, one agreement, two languages at once.
LANGUAGES = {"bob@example.com": "de", "lucia@example.com": "es", "mateo@example.com": "es"}


def _kept_secret(name: str, make) -> str:
    path = settings.VAR_DIR / name
    if not path.exists():
        settings.VAR_DIR.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = (
        "Creates the demo couples (alice & bob, carol & dave, lucia & mateo) and the demo "
        "therapist (dana)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo only runs with DJANGO_DEBUG=true: it creates accounts with a known password."
            )
        password = _kept_secret("demo_password", lambda: "demo-" + secrets.token_urlsafe(9))
        totp_secret = _kept_secret("demo_totp_secret", generate_totp_secret)
        with transaction.atomic(), emails.muted():
            users = {
                email: self._person(email, name, therapist, password)
                for email, (name, therapist) in PEOPLE.items()
            }
            dana = users["dana@example.com"]
            if not Authenticator.objects.filter(user=dana, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(dana, totp_secret)
            self._stories(users)
            client_link = stories.demo_client_link(dana=users["dana@example.com"])
            seed_demo_checkins(
                *(
                    users[f"{n}@example.com"].current_partner_seat()
                    for n in ("alice", "bob", "carol", "dave")
                ),
                dana,
            )
        self.stdout.write(
            "Demo logins: alice@example.com, bob@example.com (a couple); carol@example.com, dave@example.com"
        )
        self.stdout.write(
            "(a couple who share the rules and their history with the therapist); "
            "dana@example.com (therapist, two-factor on, with an open client link for alice and bob); "
            "erin@example.com (new, alone: a draft and an invitation waiting)."
        )
        self.stdout.write(
            "Languages: bob@example.com reads German; lucia@example.com and mateo@example.com "
            "(a couple) read Spanish, and their agreement started in Spanish."
        )
        self.stdout.write(f"password: {password}")
        self.stdout.write(f"totp secret (dana): {totp_secret}")
        self.stdout.write(f"client link (dana): {client_link}")

    def _person(self, email: str, name: str, therapist: bool, password: str) -> User:
        user, _ = User.objects.get_or_create(
            email=email, defaults={"display_name": name, "is_therapist": therapist}
        )
        user.set_password(password)
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        language = LANGUAGES.get(email, "")
        if user.language != language:
            people.set_language(user=user, language=language)
            user.refresh_from_db()
        return user

    def _stories(self, users: dict[str, User]) -> None:
        """What the demo people have lived, told once: a couple who is already linked keeps
        what it has. Further demo stories are added here."""
        alice, bob = users["alice@example.com"], users["bob@example.com"]
        carol, dave = users["carol@example.com"], users["dave@example.com"]
        dana = users["dana@example.com"]
        if not alice.current_partner_seat():
            stories.agreement_in_every_state(*stories.link(alice, bob))
        # Review dates: one rule due for review today, one whose review is next month.
        stories.rules_up_for_review(alice.current_partner_seat(), bob.current_partner_seat())
        for established in (alice, bob, carol, dave):
            # They have used their agreement for a while: the first visit's explanation is over.
            profile.dismiss_introduction(user=established)
        erin = users["erin@example.com"]
        if not erin.rule_drafts.exists():
            drafts.save_draft(
                user=erin,
                title="Slow mornings",
                text="On Sundays we take our time in the morning, phones away.",
                note="Something I would love us to keep.",
            )
        if not Invitation.objects.filter(inviter=erin, status=Invitation.Status.OPEN).exists():
            linking.create_invitation(inviter=erin)
        lucia, mateo = users["lucia@example.com"], users["mateo@example.com"]
        if not lucia.current_partner_seat():
            # Lucía invites, so the nine rules start in Spanish; they have agreed on three.
            seats = stories.link(lucia, mateo)
            rules = stories.rules_of(seats[0])
            for rule in rules[:3]:
                stories.accept(seats[0], rule)
                stories.accept(seats[1], rule)
            stories.accept(seats[1], rules[3])
        if not carol.current_partner_seat():
            seats = stories.link(carol, dave)
            rules = stories.agreement_in_every_state(*seats)
            stories.therapist_review(seats, dana, [rules["also_in_force"]])
            stories.seed_demo_therapist(dana=dana, couple=seats)
