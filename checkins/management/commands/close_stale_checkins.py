"""Closes every check-in nobody has touched for two weeks (pages also close them when read)."""

from django.core.management.base import BaseCommand

from checkins import services


class Command(BaseCommand):
    help = "Closes open check-ins untouched for 14 days, without revealing them."

    def handle(self, *args, **options) -> None:
        closed = services.close_stale()
        self.stdout.write(f"Closed {closed} stale check-in{'s' if closed != 1 else ''}.")
