"""Every email the app sends, ours (templates/emails/) and allauth's (accounts/adapter.py).

An email is rendered in the request, sealed (encrypted with FIELD_ENCRYPTION_KEYS: it may carry a
password-reset or invitation link) and queued with Django's tasks framework once the surrounding
transaction commits. A worker (`manage.py db_worker`) sends it; when the mail server refuses or
does not answer, the same sealed email is queued again for later (EMAIL_RETRY_DELAYS), and after
the last attempt it stays in the queue as failed until `manage.py check_queue --requeue`. So a
request never waits on SMTP, never fails because of it, and no email is lost while SMTP is down.

Once, too: an attempt's row says "sent" as soon as the mail server has said OK (before the
goodbye), and a failed attempt queues its retry and marks itself failed in one transaction, so
neither a retry nor a requeue sends an email twice. The one window left is the worker dying
after the server's OK and before that row is written (docs/deploy.md, "The email worker";
tests/test_email_worker_deaths.py).
"""

import contextlib
import json
import logging
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import Min, Q
from django.tasks import TaskContext, task, task_backends
from django.template.loader import render_to_string
from django.utils import timezone, translation

from intimacy import crypto
from intimacy.validators import is_time_zone

logger = logging.getLogger("intimacy.emails")
_state = threading.local()


class EmailNotSent(Exception):
    """Recorded on the last attempt at an email: it stays in the queue, failed, until requeued."""


class EmailRetryScheduled(Exception):
    """Recorded on an attempt that failed when a later attempt is already queued."""


class EmailRequeued(Exception):
    """Recorded on a failed email that `check_queue --requeue` queued again."""


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """No email for what happens inside (the demo data, for one)."""
    _state.muted = True
    try:
        yield
    finally:
        _state.muted = False


def is_muted() -> bool:
    return getattr(_state, "muted", False)


def site_url() -> str:
    """Where links in every email point: SITE_URL, never the Host header of a request (a link in
    an email must not follow a forged host, and the worker has no request at all)."""
    return settings.SITE_URL


def render(
    template: str, to: str, context: dict | None = None, *, time_zone: str = "", language: str = ""
) -> EmailMessage:
    """templates/emails/<template>_subject.txt and _body.txt, as one message to one address,
    with every date and time in the recipient's zone (`time_zone`, their User.time_zone), not
    in the zone of whoever caused the email."""
    context = {"site_url": site_url(), **(context or {})}
    with in_zone(time_zone), in_language(language):
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        body = render_to_string(f"emails/{template}_body.txt", context)
    return EmailMessage(subject=subject, body=body, to=[to])


def in_zone(time_zone: str) -> contextlib.AbstractContextManager:
    """The recipient's zone for what is rendered inside; the site's (UTC) when they have none."""
    return timezone.override(zoneinfo.ZoneInfo(time_zone) if is_time_zone(time_zone) else None)


def in_language(language: str) -> contextlib.AbstractContextManager:
    """The recipient's language (their User.language) for what is rendered inside, whoever
    caused the email; the site's (LANGUAGE_CODE) when they chose none: a worker or another
    person's request has no browser of theirs to ask."""
    return translation.override(
        language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    )


def send(
    template: str,
    to: str,
    context: dict | None = None,
    *,
    time_zone: str = "",
    language: str = "",
) -> None:
    """Renders one of our emails and queues it once the surrounding transaction commits (never
    for a change that was rolled back)."""
    if is_muted():
        return
    queue(render(template, to, context, time_zone=time_zone, language=language))


def queue(message: EmailMessage, *, claim: Callable[[], bool] | None = None) -> None:
    """Queues the message once the surrounding transaction commits.

    `claim`, if given, runs in the same transaction as the enqueue and may refuse it (the hourly
    throttle): what it writes is kept only if the email was really queued."""
    if is_muted():
        return
    sealed = seal(message)

    def enqueue() -> None:
        try:
            with transaction.atomic():
                if claim is not None and not claim():
                    return
                deliver.enqueue(sealed)
        except Exception:
            # The action itself is committed: this must never become the request's error.
            logger.exception("An email could not be queued")

    transaction.on_commit(enqueue)


def seal(message: EmailMessage) -> str:
    if message.attachments:
        raise ValueError("Queued emails cannot carry attachments.")
    data = {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [
            [alternative.content, alternative.mimetype]
            for alternative in getattr(message, "alternatives", [])
        ],
    }
    return crypto.encrypt(json.dumps(data))


def unseal(sealed: str) -> EmailMultiAlternatives:
    data = json.loads(crypto.decrypt(sealed))
    message = EmailMultiAlternatives(
        subject=data["subject"],
        body=data["body"],
        from_email=data["from_email"],
        to=data["to"],
        cc=data["cc"],
        bcc=data["bcc"],
        reply_to=data["reply_to"],
        headers=data["headers"],
    )
    message.content_subtype = data["content_subtype"]
    for content, mimetype in data["alternatives"]:
        message.attach_alternative(content, mimetype)
    return message


@task(takes_context=True)
def deliver(context: TaskContext, sealed: str, attempt: int = 1) -> None:
    """Sends one queued email, once. A failed attempt queues the next one (with the same sealed
    email) and marks its own row failed in one transaction; the worker records each failure on
    the task's row and in its log."""
    message = unseal(sealed)
    mailer = mailers.default
    try:
        mailer.open()
        mailer.send_messages([message])  # returns once the mail server has said OK
    except Exception as error:
        _close(mailer)
        # Only the kind of failure is recorded: the server's own text (and so a traceback that
        # includes it) may name the recipient, and neither logs nor the queue ever hold an address.
        reason = _kind(error)
        delays = settings.EMAIL_RETRY_DELAYS
        if attempt > len(delays) or not deliver.get_backend().supports_defer:
            raise EmailNotSent(f"attempt {attempt} failed ({reason}); no attempt left") from None
        run_after = timezone.now() + timedelta(seconds=delays[attempt - 1])
        retry = EmailRetryScheduled(
            f"attempt {attempt} failed ({reason}); the next one is queued for"
            f" {run_after.isoformat(timespec='seconds')}"
        )
        # Both or neither: a worker that dies here leaves this attempt running (check_queue
        # --requeue queues it again) and no retry, never a retry and a requeue.
        with transaction.atomic():
            _record(context, retry)
            deliver.using(run_after=run_after).enqueue(sealed, attempt=attempt + 1)
        raise retry from None
    # The server has it: the row says so before anything else can fail (the goodbye included).
    _record(context, None)
    _close(mailer)


def _record(context: TaskContext, failure: Exception | None) -> None:
    """Writes this attempt's outcome on its row of the queue (when the queue is the database),
    as the worker does once the task returns or raises."""
    rows = _queued()
    if rows is None:
        return
    with transaction.atomic():
        row = rows.select_for_update().filter(id=context.task_result.id).first()
        if row is None:
            return
        if failure is None:
            row.set_successful(None)
        else:
            row.set_failed(failure)


def _close(mailer) -> None:
    """Closes the connection to the mail server, whatever it answers: the outcome is known."""
    try:
        mailer.close()
    except Exception:
        logger.warning("The connection to the mail server did not close cleanly")


def _kind(error: BaseException) -> str:
    """The kinds of failure, outermost first: "SMTPServerDisconnected after TimeoutError"."""
    kinds = []
    while error is not None and len(kinds) < 3:
        kind = type(error).__name__
        if code := getattr(error, "smtp_code", None):
            kind += f" {code}"
        kinds.append(kind)
        error = error.__cause__ or error.__context__
    return " after ".join(kinds)


def _queued():
    """The queue's rows when the email queue is the database backend, else None."""
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task_backends[deliver.backend], DatabaseBackend):
        return None
    return DBTaskResult.objects.filter(backend_name=deliver.backend)


def oldest_waiting_seconds() -> int | None:
    """How long the oldest email that is due has waited for a worker (None: nothing waits, or the
    emails are not queued in the database)."""
    from django_tasks_db.models import get_date_max

    rows = _queued()
    if rows is None:
        return None
    never = Q(run_after=get_date_max())  # queued without a run_after: due when queued
    due = rows.ready().aggregate(
        now=Min("enqueued_at", filter=never), later=Min("run_after", filter=~never)
    )
    due_times = [value for value in due.values() if value is not None]
    if not due_times:
        return None
    return max(0, int((timezone.now() - min(due_times)).total_seconds()))


def queue_problems() -> list[str]:
    """What an operator must look at: emails no worker picked up, attempts that never finished,
    emails that ran out of attempts. Empty when the queue is healthy."""
    rows = _queued()
    if rows is None:
        return []
    problems = []
    limit = settings.EMAIL_QUEUE_STUCK_SECONDS
    waited = oldest_waiting_seconds()
    if waited is not None and waited > limit:
        problems.append(
            f"an email has waited {waited} seconds for a worker: is `manage.py db_worker` running?"
        )
    stale = stale_attempts().count()
    if stale:
        problems.append(f"{stale} email attempt(s) started over {limit} seconds ago never finished")
    failed = failed_emails().count()
    if failed:
        problems.append(f"{failed} email(s) ran out of attempts and were not sent")
    return problems


def stale_attempts():
    rows = _queued()
    cutoff = timezone.now() - timedelta(seconds=settings.EMAIL_QUEUE_STUCK_SECONDS)
    return rows.running().filter(task_path=deliver.module_path, started_at__lt=cutoff)


def failed_emails():
    """Failed attempts after which no other attempt was queued."""
    return (
        _queued()
        .failed()
        .filter(task_path=deliver.module_path)
        .exclude(exception_class_path__in=[_path(EmailRetryScheduled), _path(EmailRequeued)])
    )


def requeue() -> int:
    """Queues again, from their first attempt, the emails that ran out of attempts or whose
    attempt never finished (a worker that died while sending). Returns how many."""
    count = 0
    with transaction.atomic():
        for row in failed_emails().select_for_update():
            deliver.enqueue(row.args_kwargs["args"][0])
            row.exception_class_path = _path(EmailRequeued)
            row.save(update_fields=["exception_class_path"])
            count += 1
        for row in stale_attempts().select_for_update():
            deliver.enqueue(row.args_kwargs["args"][0])
            row.set_failed(EmailRequeued("the attempt never finished"))
            count += 1
    return count


def _path(exception_class: type[Exception]) -> str:
    return f"{exception_class.__module__}.{exception_class.__qualname__}"
