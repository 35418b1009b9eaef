"""Fault injection for email: a real mail server on 127.0.0.1 that refuses connections, accepts
them and never answers, or works. Whatever it does, a partner's action answers normally and at
once, nothing is half applied, and once the server is back the worker sends every queued email,
once (real transactions: emails are queued on commit, as in production)."""

import email
import io
import re
import socket
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.models import Invitation, Partner
from agreements import consent
from agreements.models import Acceptance
from intimacy import emails
from tests.conftest import fresh, rules_of

HTMX = {"HTTP_HX_REQUEST": "true"}
# The mail server's timeout in these tests; a request must answer well within it.
SMTP_TIMEOUT = 1.5


class FakeSMTP:
    """A mail server on 127.0.0.1 that refuses (bound, not listening), hangs (accepts and never
    says a word) or answers (a small SMTP conversation), switched at will on the same port."""

    conversation_timeout = 5  # seconds

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.mode = "refuse"
        self.connections = 0
        self.received: list[tuple[list[str], email.message.Message]] = []
        self._held: list[socket.socket] = []
        self._listening = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def hang(self) -> None:
        self.mode = "hang"
        self._listen()

    def reject(self) -> None:
        """Answers, but refuses every recipient, naming them as real servers do."""
        self.mode = "reject"
        self._listen()

    def answer(self) -> None:
        self.mode = "answer"
        for conn in self._held:
            conn.close()
        self._held.clear()
        self._listen()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()

    def _listen(self) -> None:
        if self._listening:
            return
        self._listening = True
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self._start(self._accept_loop)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.mode == "hang":
                self._held.append(conn)
            else:
                self._start(self._converse, conn)

    def _stage(self, stage: str) -> None:
        """Where the conversation is: "DATA" (before the server invites the message), "end" (it
        has the whole message, before it answers) or "QUIT" (before it says goodbye)."""

    def _take(self, recipients: list[str], data: bytes) -> str:
        """The answer to a whole message."""
        self.received.append((recipients, email.message_from_bytes(data)))
        return "250 OK queued"

    def _converse(self, conn: socket.socket) -> None:
        conn.settimeout(self.conversation_timeout)
        with conn, conn.makefile("rb") as lines:

            def say(line: str) -> None:
                conn.sendall(line.encode() + b"\r\n")

            try:
                say("220 fake.test ESMTP")
                recipients: list[str] = []
                while line := lines.readline():
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in {"EHLO", "HELO"}:
                        say("250 fake.test")
                    elif verb == "MAIL":
                        recipients = []
                        say("250 OK")
                    elif verb == "RCPT":
                        address = re.search(r"<([^>]*)>", command).group(1)
                        if self.mode == "reject":
                            say(f"550 5.1.1 <{address}>: mailbox unavailable")
                            continue
                        recipients.append(address)
                        say("250 OK")
                    elif verb == "DATA":
                        self._stage("DATA")
                        say("354 End data with <CR><LF>.<CR><LF>")
                        data = b""
                        while (chunk := lines.readline()) not in (b".\r\n", b""):
                            data += chunk
                        if chunk == b"":
                            return  # the client went away in the middle: nothing was taken
                        self._stage("end")
                        say(self._take(recipients, data))
                    elif verb == "QUIT":
                        self._stage("QUIT")
                        say("221 Bye")
                        return
                    else:
                        say("250 OK")
            except OSError:
                return


@pytest.fixture
def smtp(settings):
    """The app's emails go through the database queue to this server."""
    server = FakeSMTP()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": SMTP_TIMEOUT},
        }
    }
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    settings.EMAIL_RETRY_DELAYS = [0, 0]
    settings.SITE_URL = "https://rules.example"
    yield server
    server.close()


def run_worker(*, max_tasks: int | None = None) -> None:
    """`manage.py db_worker` as the worker service runs it, until the queue has nothing due."""
    arguments = ["--batch", "--no-startup-delay", "--no-reload", "--interval", "0"]
    if max_tasks:
        arguments += ["--max-tasks", str(max_tasks)]
    call_command("db_worker", *arguments, stdout=io.StringIO())


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def accept_first_rule(client, seat: Partner):
    """The partner's acceptance that brings the first rule into force: the other accepted it
    before (which, blind until answered, emailed nobody), so this one is news worth an email."""
    rule = rules_of(seat)[0]
    other = Partner.objects.exclude(pk=seat.pk).get(couple_id=seat.couple_id)
    with emails.muted():
        consent.accept(partner=other, rule=rule, version_id=rule.pending_version_id)
    url = reverse("agreements:accept", args=[rule.pk])
    return rule, *timed(lambda: client.post(url, {"version": rule.pending_version_id}, **HTMX))


def emails_to(server: FakeSMTP, address: str) -> list[email.message.Message]:
    return [message for recipients, message in server.received if address in recipients]


def waiting() -> int:
    return DBTaskResult.objects.ready().count()


@pytest.mark.django_db(transaction=True)
def test_with_smtp_refusing_an_accept_answers_at_once_and_the_email_goes_out_once_smtp_is_back(
    smtp, couple, bob_client
):
    alice, bob = couple
    rule, response, elapsed = accept_first_rule(bob_client, bob)

    assert response.status_code == 200
    assert elapsed < SMTP_TIMEOUT
    assert 'data-state="' in response.content.decode()
    assert Acceptance.objects.filter(partner=bob, version_id=rule.pending_version_id).count() == 1
    assert fresh(rule).current_version_id == rule.pending_version_id  # in force
    assert waiting() == 1
    assert Partner.objects.get(pk=alice.pk).notified_at is not None  # stamped: it is queued

    run_worker(max_tasks=1)  # one attempt, refused: a later one is queued
    assert smtp.received == []
    assert waiting() == 1
    [failed] = DBTaskResult.objects.failed()
    assert failed.exception_class_path == "intimacy.emails.EmailRetryScheduled"
    assert "ConnectionRefusedError" in failed.traceback

    smtp.answer()
    run_worker()
    [message] = emails_to(smtp, "alice@example.com")
    assert message["Subject"] == "You have an update on Rules of the Road"
    assert "https://rules.example/" in message.get_payload(decode=True).decode()
    assert len(smtp.received) == 1
    assert waiting() == 0
    assert emails.queue_problems() == []


@pytest.mark.django_db(transaction=True)
def test_with_smtp_hanging_an_accept_never_waits_for_it_and_the_email_goes_out_once_smtp_answers(
    smtp, couple, bob_client
):
    alice, bob = couple
    smtp.hang()
    rule, response, elapsed = accept_first_rule(bob_client, bob)

    assert response.status_code == 200
    assert elapsed < SMTP_TIMEOUT
    assert smtp.connections == 0  # the request never even opened a connection to it
    assert Acceptance.objects.filter(partner=bob).count() == 1

    attempt, took = timed(lambda: run_worker(max_tasks=1))
    assert smtp.connections == 1
    assert took >= SMTP_TIMEOUT * 0.9  # the worker, not the partner, waited for the timeout
    assert smtp.received == []
    assert "TimeoutError" in DBTaskResult.objects.failed().get().traceback

    smtp.answer()
    run_worker()
    assert len(emails_to(smtp, "alice@example.com")) == 1
    assert len(smtp.received) == 1
    assert emails.queue_problems() == []


@pytest.mark.django_db(transaction=True)
def test_an_invitation_email_with_smtp_hanging_is_answered_at_once_and_sent_later(
    smtp, alice, alice_client
):
    smtp.hang()
    response, elapsed = timed(
        lambda: alice_client.post(reverse("accounts:invite"), {"email": "bob@example.com"})
    )
    assert response.status_code == 302
    assert elapsed < SMTP_TIMEOUT
    assert Invitation.objects.filter(inviter=alice, status="open").count() == 1

    smtp.answer()
    run_worker()
    [message] = emails_to(smtp, "bob@example.com")
    assert "https://rules.example/invitation/" in message.get_payload(decode=True).decode()


@pytest.mark.django_db(transaction=True)
def test_allauths_password_reset_email_with_smtp_refusing_is_queued_and_sent_once_smtp_is_back(
    smtp, alice, client
):
    response, elapsed = timed(
        lambda: client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    )
    assert response.status_code == 302
    assert elapsed < SMTP_TIMEOUT
    assert waiting() == 1

    run_worker(max_tasks=1)
    assert smtp.received == []

    smtp.answer()
    run_worker()
    [message] = emails_to(smtp, "alice@example.com")
    assert message["Subject"] == "Rules of the Road: Choose a new password"
    body = message.get_payload(decode=True).decode()
    # The link follows SITE_URL, not the test client's host.
    assert re.search(r"https://rules\.example/accounts/password/reset/key/\S+", body)
    assert "testserver" not in body


@pytest.mark.django_db(transaction=True)
def test_an_email_that_ran_out_of_attempts_is_kept_reported_and_sent_when_requeued(
    smtp, couple, bob_client
):
    alice, bob = couple
    accept_first_rule(bob_client, bob)
    run_worker()  # every attempt (EMAIL_RETRY_DELAYS allows three) is refused
    assert smtp.received == []
    assert waiting() == 0
    assert DBTaskResult.objects.failed().count() == 3
    assert emails.failed_emails().count() == 1
    with pytest.raises(CommandError, match="1 email\\(s\\) ran out of attempts"):
        call_command("check_queue", stdout=io.StringIO())

    smtp.answer()
    out = io.StringIO()
    call_command("check_queue", "--requeue", stdout=out)
    assert "1 email(s) queued again" in out.getvalue()
    run_worker()
    assert len(emails_to(smtp, "alice@example.com")) == 1
    assert len(smtp.received) == 1
    call_command("check_queue", stdout=io.StringIO())  # healthy again: no error


@pytest.mark.django_db(transaction=True)
def test_a_refused_recipient_is_recorded_without_the_address_in_the_queue_or_the_logs(
    smtp, couple, bob_client, caplog
):
    alice, bob = couple
    smtp.reject()
    accept_first_rule(bob_client, bob)
    run_worker()
    rows = list(DBTaskResult.objects.failed())
    assert len(rows) == 3
    assert "SMTPRecipientsRefused" in rows[0].traceback
    assert "SMTPRecipientsRefused" in caplog.text
    for text in [row.traceback for row in rows] + [caplog.text]:
        assert "alice@example.com" not in text
    assert emails.failed_emails().count() == 1  # kept, for check_queue --requeue


@pytest.mark.django_db(transaction=True)
def test_when_queueing_fails_the_action_still_answers_and_the_throttle_is_not_stamped(
    smtp, couple, bob_client, monkeypatch, caplog
):
    alice, bob = couple

    def broken_enqueue(*args, **kwargs):
        raise RuntimeError("the queue is unreachable")

    monkeypatch.setattr(type(emails.deliver.get_backend()), "enqueue", broken_enqueue)
    rule, response, _ = accept_first_rule(bob_client, bob)

    assert response.status_code == 200
    assert Acceptance.objects.filter(partner=bob).count() == 1
    assert Partner.objects.get(pk=alice.pk).notified_at is None  # so the next action may email
    assert "An email could not be queued" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_with_immediate_tasks_a_refusing_smtp_still_never_fails_the_request(smtp, settings, couple):
    """Development runs tasks in the request: even then SMTP cannot turn an action into a 500."""
    from tests.conftest import client_for

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    alice, bob = couple
    rule, response, _ = accept_first_rule(client_for(bob.user), bob)
    assert response.status_code == 200
    assert Acceptance.objects.filter(partner=bob).count() == 1
