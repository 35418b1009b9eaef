"""Demo data for development: two couples and a therapist, idempotent. Never in production."""

import secrets

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import linking
from accounts.models import User
from agreements import consent, stories, therapy
from agreements.models import Rule
from intimacy import emails

PEOPLE = {
    "alice@example.com": ("Alice", False),
    "bob@example.com": ("Bob", False),
    "carol@example.com": ("Carol", False),
    "dave@example.com": ("Dave", False),
    "dana@example.com": ("Dr Dana Reyes", True),
}


def _kept_secret(name: str, make) -> str:
    path = settings.VAR_DIR / name
    if not path.exists():
        settings.VAR_DIR.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Creates the demo couples (alice & bob, carol & dave) and the demo therapist (dana)."

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
            self._alice_and_bob(users["alice@example.com"], users["bob@example.com"])
            self._carol_and_dave(users["carol@example.com"], users["dave@example.com"], dana)
            client_link = stories.demo_client_link(dana=dana)
        self.stdout.write(
            "Demo logins: alice@example.com, bob@example.com (a couple); carol@example.com, dave@example.com"
        )
        self.stdout.write(
            "(a couple who share the rules and their history with the therapist); "
            "dana@example.com (therapist, two-factor on, with an open client link for alice and bob)."
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
        return user

    def _link(self, a: User, b: User):
        if a.current_partner_seat():
            return None
        invitation = linking.create_invitation(inviter=a)
        couple = linking.accept_invitation(token=invitation.token, user=b)
        return couple.partners.get(user=a), couple.partners.get(user=b)

    def _alice_and_bob(self, alice: User, bob: User) -> None:
        seats = self._link(alice, bob)
        if seats is None:
            return
        a, b = seats
        rules = list(Rule.objects.filter(agreement__couple=a.couple).order_by("position"))

        def both(rule):
            consent.accept(partner=a, rule=rule, version_id=rule.pending_version_id)
            rule.refresh_from_db()
            consent.accept(partner=b, rule=rule, version_id=rule.pending_version_id)

        for rule in rules[:3]:
            both(rule)
        consent.accept(
            partner=b, rule=rules[3], version_id=rules[3].pending_version_id
        )  # waits for alice
        consent.accept(
            partner=a, rule=rules[4], version_id=rules[4].pending_version_id
        )  # waits for bob
        both(rules[5])
        consent.propose_change(
            partner=b,
            rule=rules[5],
            title="Equals, with room for both voices",
            text="We name the power differences between us, out loud and without blame, and treat each other "
            "as equals, teammates and allies, so that there is always room for each of us to tell the truth.",
            note="I'd like us to say them out loud.",
        )
        both(rules[6])
        consent.withdraw(partner=a, rule=rules[6], note="I want to talk about this one again.")
        consent.decline(
            partner=b,
            rule=rules[7],
            version_id=rules[7].pending_version_id,
            note="Not in this form.",
        )

    def _carol_and_dave(self, carol: User, dave: User, dana: User) -> None:
        seats = self._link(carol, dave)
        if seats is None:
            return
        c, d = seats
        agreement = c.couple.agreement
        rules = list(Rule.objects.filter(agreement=agreement).order_by("position"))
        for rule in rules[:6]:
            consent.accept(partner=c, rule=rule, version_id=rule.pending_version_id)
            rule.refresh_from_db()
            consent.accept(partner=d, rule=rule, version_id=rule.pending_version_id)
        consent.accept(partner=d, rule=rules[6], version_id=rules[6].pending_version_id)
        stories.seed_demo_therapist(dana=dana, couple=(c, d))
        therapy.add_comment(
            agreement=agreement,
            rule=rules[1],
            therapist=dana,
            text="Worth talking through what 'support' looks like for each of you when this happens.",
        )
        therapy.add_comment(
            agreement=agreement,
            rule=rules[1],
            partner=c,
            text="We'll bring it to our next session.",
        )
        therapy.add_comment(
            agreement=agreement,
            therapist=dana,
            text="A good start. Notice which rules are still waiting, and what makes them harder to accept.",
        )
