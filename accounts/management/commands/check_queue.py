"""Reports an email queue that needs an operator; exits 1 when it does (a health check)."""

from django.core.management.base import BaseCommand, CommandError

from intimacy import emails


class Command(BaseCommand):
    help = (
        "Reports emails that no worker picked up, attempts that never finished and emails that"
        " ran out of attempts. Exits 1 if there are any. --requeue queues the failed ones again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--requeue",
            action="store_true",
            help="Queue again, from their first attempt, the emails that were not sent.",
        )

    def handle(self, *args, requeue: bool, **options) -> None:
        if requeue:
            count = emails.requeue()
            self.stdout.write(f"{count} email(s) queued again.")
        problems = emails.queue_problems()
        if problems:
            raise CommandError("The email queue needs attention: " + "; ".join(problems))
        self.stdout.write("The email queue is healthy.")
