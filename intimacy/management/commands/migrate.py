"""Django's migrate, during which the checks that read the database wait (intimacy.checks): it is
the step that creates what they look for, the cache table included."""

from django.core.management.commands import migrate

from intimacy import checks


class Command(migrate.Command):
    def check(self, *args, **kwargs) -> None:
        with checks.while_migrating():
            super().check(*args, **kwargs)
