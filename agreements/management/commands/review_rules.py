"""Writes down the rules that rested because nobody answered their review in time, and queues
the one neutral email for each review that came due. Every screen shows a lapsed rule resting
already (Rule asks the clock); no page writes, so this command, or the next service that acts on
the rule, writes it down. Idempotent: run it as often as you like."""

from django.core.management.base import BaseCommand

from agreements import consent


class Command(BaseCommand):
    help = "Records lapsed reviews for the history and emails, once, about reviews that came due."

    def handle(self, *args, **options) -> None:
        lapsed = sum(consent.record_lapse(rule_id=pk) for pk in consent.lapses_due())
        told = sum(consent.tell_review_due(agreement_id=pk) for pk in consent.reviews_to_tell())
        self.stdout.write(
            f"Recorded {lapsed} lapsed review{'s' if lapsed != 1 else ''}; "
            f"{told} review{'s' if told != 1 else ''} newly due."
        )
