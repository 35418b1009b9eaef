"""agreements 0002: a rule paused before resting existed gets its agreed wording, withdrawer and
time from its last withdrawal, and the agreed wording stops waiting as a proposal (where one
partner alone could pile up a "yes" on it)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("agreements", "0001_initial")]
AFTER = [("agreements", "0002_consent_resting")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    """Whatever happens, the database ends at the newest migrations for the tests after this."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_rule_paused_the_old_way_rests_with_the_wording_both_had_agreed():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User = apps.get_model("accounts", "User")
    Couple = apps.get_model("accounts", "Couple")
    Partner = apps.get_model("accounts", "Partner")
    Agreement = apps.get_model("agreements", "Agreement")
    Rule = apps.get_model("agreements", "Rule")
    RuleVersion = apps.get_model("agreements", "RuleVersion")
    Acceptance = apps.get_model("agreements", "Acceptance")
    Event = apps.get_model("agreements", "Event")

    couple = Couple.objects.create()
    alice, bob = (
        Partner.objects.create(
            couple=couple, user=User.objects.create(email=f"{n}@example.com", display_name=n)
        )
        for n in ("alice", "bob")
    )
    agreement = Agreement.objects.create(couple=couple)
    rule = Rule.objects.create(agreement=agreement, position=1, state="paused")
    agreed = RuleVersion.objects.create(rule=rule, number=1, text="Agreed")
    proposal = Rule.objects.create(agreement=agreement, position=2)
    by_alice = RuleVersion.objects.create(rule=proposal, number=1, text="Alice's", author=alice)
    withdrawn = timezone.now()
    Event.objects.create(
        agreement=agreement, rule=rule, version=agreed, partner=bob, kind="withdrew"
    )
    Event.objects.create(
        agreement=agreement, rule=proposal, version=by_alice, partner=alice, kind="proposed_rule"
    )
    # The old withdrawal put the agreed wording back on the table, and Alice re-accepted alone.
    Rule.objects.filter(pk=rule.pk).update(pending_version=agreed, latest_version=agreed)
    Rule.objects.filter(pk=proposal.pk).update(pending_version=by_alice, latest_version=by_alice)
    Acceptance.objects.create(version=agreed, partner=alice, created_at=withdrawn)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Rule = apps.get_model("agreements", "Rule")
    Acceptance = apps.get_model("agreements", "Acceptance")
    rested = Rule.objects.get(pk=rule.pk)
    assert (rested.agreed_version_id, rested.withdrawn_by_id) == (agreed.pk, bob.pk)
    assert rested.withdrawn_at is not None and rested.pending_version_id is None
    assert not Acceptance.objects.filter(version_id=agreed.pk, withdrawn_at__isnull=True).exists()
    assert Rule.objects.get(pk=proposal.pk).proposed_by_id == alice.pk
