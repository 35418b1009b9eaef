"""Closes in their rows the check-ins nobody has touched for two weeks. Every screen shows them
closed already (CheckIn.status asks the clock); no page writes, so this command, or the next
service that acts on one, writes it down."""

from django.core.management.base import BaseCommand

from checkins import services


class Command(BaseCommand):
    help = "Closes open check-ins untouched for 14 days, without revealing them."

    def handle(self, *args, **options) -> None:
        closed = services.close_stale()
        self.stdout.write(f"Closed {closed} stale check-in{'s' if closed != 1 else ''}.")
