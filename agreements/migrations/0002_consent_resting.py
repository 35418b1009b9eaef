"""Withdrawn rules rest with the wording both had agreed (issue 12): the agreed version, who
withdrew and when are kept on the rule. Rules paused before this get them from their last
withdrawal event, and the agreed wording no longer waits as a proposal of its own."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def name_proposers(apps, schema_editor):
    """Who proposed what waits: the partner of the last proposal, restoration or reopening of
    the waiting version (none for the nine defaults)."""
    Rule = apps.get_model("agreements", "Rule")
    Event = apps.get_model("agreements", "Event")
    kinds = ["proposed_rule", "proposed_change", "restored"]
    for rule in Rule.objects.filter(pending_version__isnull=False):
        proposal = (
            Event.objects.filter(rule=rule, version_id=rule.pending_version_id, kind__in=kinds)
            .order_by("-created_at", "-pk")
            .first()
        )
        if proposal is not None and proposal.partner_id:
            rule.proposed_by_id = proposal.partner_id
            rule.save(update_fields=["proposed_by"])


def rest_paused_rules(apps, schema_editor):
    Rule = apps.get_model("agreements", "Rule")
    Event = apps.get_model("agreements", "Event")
    Acceptance = apps.get_model("agreements", "Acceptance")
    for rule in Rule.objects.filter(state="paused"):
        withdrawal = (
            Event.objects.filter(rule=rule, kind="withdrew").order_by("-created_at", "-pk").first()
        )
        if withdrawal is not None and withdrawal.version_id:
            rule.agreed_version_id = withdrawal.version_id
            rule.withdrawn_by_id = withdrawal.partner_id
            rule.withdrawn_at = withdrawal.created_at
        else:
            rule.agreed_version_id = rule.pending_version_id or rule.latest_version_id
        if rule.pending_version_id == rule.agreed_version_id:
            # The old withdrawal put the agreed wording back on the table, where one partner
            # could pile up a "yes" on it: it rests now, and only the withdrawer can reopen it.
            Acceptance.objects.filter(
                version_id=rule.pending_version_id, withdrawn_at__isnull=True
            ).update(withdrawn_at=rule.withdrawn_at or timezone.now())
            rule.pending_version_id = None
        rule.save(
            update_fields=["agreed_version", "withdrawn_by", "withdrawn_at", "pending_version"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("agreements", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="rule",
            name="agreed_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="agreements.ruleversion",
            ),
        ),
        migrations.AddField(
            model_name="rule",
            name="withdrawn_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rule",
            name="withdrawn_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.partner",
            ),
        ),
        migrations.AddField(
            model_name="rule",
            name="proposed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.partner",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Agreement started with the default rules"),
                    ("proposed_rule", "Proposed a new rule"),
                    ("proposed_change", "Proposed a change"),
                    ("accepted", "Accepted"),
                    ("in_force", "Came into force"),
                    ("not_yet", "Not yet"),
                    ("declined", "Declined"),
                    ("took_back", "Took back a proposal"),
                    ("withdrew", "Withdrew consent"),
                    ("archived", "Archived the rule"),
                    ("restored", "Restored the rule as a proposal"),
                    ("reopened", "Reopened the rule"),
                    ("commented", "Commented"),
                    ("access_requested", "Asked to give a therapist access"),
                    ("access_granted", "Agreed to give a therapist access"),
                    ("access_declined", "Declined therapist access"),
                    ("access_ended", "Ended therapist access"),
                    ("partnership_ended", "Ended the partnership"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(rest_paused_rules, migrations.RunPython.noop),
        migrations.RunPython(name_proposers, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="rule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("agreed_version__isnull", False), ("state", "paused")),
                    models.Q(
                        models.Q(("state", "paused"), _negated=True),
                        ("agreed_version__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="agreed_wording_exactly_when_resting",
            ),
        ),
    ]
