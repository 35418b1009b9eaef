"""Stories: agreements in a known state, made through the real services (demo data, fixtures)."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Partner, User
from agreements import therapy
from agreements.models import ClientLink, Rule, TherapistAccess


def seed_demo_therapist(*, dana: User, couple: tuple[Partner, Partner]) -> TherapistAccess:
    """The couple shares "the rules and our history" with dana, who suggested new wording for one
    rule (still waiting for them) and a new rule that the first partner adopted as her proposal
    (waiting for the second partner's answer)."""
    first, second = couple
    _, token = therapy.create_client_link(therapist=dana)
    asked = therapy.ask_partner(partner=first, token=token, scope=TherapistAccess.Scope.HISTORY)
    access = therapy.agree(partner=second, access_id=asked.pk)
    agreement = access.agreement
    rule = Rule.objects.filter(agreement=agreement).order_by("position")[2]
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
    return access


def demo_client_link(*, dana: User) -> str:
    """A fresh open client link of dana's (for alice and bob), as a full URL. The token is never
    stored, so each run cancels dana's earlier unused demo links and makes a new one."""
    ClientLink.objects.filter(
        therapist=dana, used_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=timezone.now())
    _, token = therapy.create_client_link(therapist=dana)
    return settings.SITE_URL.rstrip("/") + reverse("agreements:client_link", args=[token])
