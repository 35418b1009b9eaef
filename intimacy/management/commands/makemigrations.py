"""Django's makemigrations, which reads the models and not the database: the checks that read the
database (intimacy.checks) wait, as they do while migrate runs."""

from django.core.management.commands import makemigrations

from intimacy import checks


class Command(makemigrations.Command):
    def check(self, *args, **kwargs) -> None:
        with checks.while_migrating():
            super().check(*args, **kwargs)
