"""Once from the queue: the worker (`manage.py db_worker`, a real process) is killed at each step
of sending one email, then the routine docs/deploy.md gives is followed (start a worker again;
`check_queue --requeue` for an attempt that never finished). Whatever the step, the email is sent
exactly once, except in the one window no queue can close: the mail server has said OK and the
worker dies before the queue's row says so (docs/deploy.md, "The email worker").

The worker is stopped at a step from outside, as a real death would find it: the mail server
holds its answer, or the test holds the row the worker must write next (a row lock), and then the
worker gets SIGKILL."""

import io
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from intimacy import emails
from tests.app_servers import ROOT, create_cache_table, database_url, server_env
from tests.test_email_faults import FakeSMTP

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="stops the worker with PostgreSQL row locks"
    ),
]

TO = "alice@example.com"
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


class GatedSMTP(FakeSMTP):
    """A mail server that can stop and wait at one stage of the conversation (`hold_at`): "DATA"
    (before it invites the message), "end" (it has the whole message, before it answers) or "QUIT"
    (after its OK, before it says goodbye). `final` is its answer to the message: "250" (taken)
    or "451" (try again later)."""

    conversation_timeout = 30  # seconds

    def __init__(self) -> None:
        super().__init__()
        self.hold_at: str | None = None
        self.final = "250"
        self.release = threading.Event()
        self.reached = {stage: threading.Event() for stage in ("DATA", "end", "QUIT")}

    def _stage(self, stage: str) -> None:
        self.reached[stage].set()
        if self.hold_at == stage:
            self.release.wait(60)

    def _take(self, recipients: list[str], data: bytes) -> str:
        if self.final != "250":
            return "451 4.3.0 Try again later"
        return super()._take(recipients, data)


@pytest.fixture
def smtp(settings):
    server = GatedSMTP()
    # This process queues the email and runs the operator's commands, as the worker sees them.
    settings.TASKS = DATABASE_QUEUE
    settings.EMAIL_RETRY_DELAYS = [0, 0]
    create_cache_table()  # the worker's checks look for the production cache
    yield server
    server.release.set()
    server.close()


def worker_env(smtp: GatedSMTP) -> dict[str, str]:
    return server_env(
        TASKS_BACKEND="database",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        EMAIL_TIMEOUT_SECONDS="30",
        EMAIL_RETRY_DELAYS_SECONDS="0,0",
    )


def start_worker(smtp: GatedSMTP, *extra: str) -> subprocess.Popen:
    """`manage.py db_worker` as the compose file's worker service runs it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"]
        + ["--interval", "0.1", *extra],
        cwd=ROOT,
        env=worker_env(smtp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def queue_one_email() -> str:
    result = emails.deliver.enqueue(emails.seal(emails.render("partner_update", TO)))
    return result.id


class RowHolder:
    """A transaction of the test's own that holds the lock on one queue row, so that a worker
    that comes to write it waits, where the test can kill it."""

    def __init__(self, row_id: str):
        self.conn = psycopg.connect(database_url())
        self.conn.execute(
            f'SELECT 1 FROM "{DBTaskResult._meta.db_table}" WHERE id = %s FOR UPDATE', [row_id]
        )
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]

    def waiters(self) -> list[int]:
        """The database sessions waiting for this lock."""
        with psycopg.connect(database_url(), autocommit=True) as other:
            rows = other.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [self.pid],
            ).fetchall()
        return [pid for (pid,) in rows]

    def release_after_the_dead(self, waiters: list[int]) -> None:
        """PostgreSQL ends the session of a client that died once it next talks to it; here it
        is ended at once, then the lock is let go."""
        with psycopg.connect(database_url(), autocommit=True) as other:
            for pid in waiters:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        self.conn.rollback()
        self.conn.close()


def the_operators_routine(smtp: GatedSMTP, settings) -> None:
    """docs/deploy.md: the worker's supervisor starts it again; `check_queue` reports an attempt
    that never finished, and `check_queue --requeue` queues it again."""
    smtp.answer()
    smtp.hold_at = None
    smtp.final = "250"
    smtp.release.set()
    settings.EMAIL_QUEUE_STUCK_SECONDS = 0  # the dead attempt counts as never finished now
    call_command("check_queue", "--requeue", stdout=io.StringIO(), stderr=io.StringIO())
    worker = start_worker(smtp, "--batch")
    assert worker.wait(timeout=120) == 0
    settings.EMAIL_QUEUE_STUCK_SECONDS = 600
    assert emails.queue_problems() == []


def delivered(smtp: GatedSMTP) -> int:
    return sum(1 for recipients, _ in smtp.received if TO in recipients)


def held_at(smtp: GatedSMTP, stage: str, what: str) -> tuple[subprocess.Popen, str]:
    """A worker sending the one queued email, the mail server holding it at `stage`; and the
    queue's row."""
    smtp.answer()
    smtp.hold_at = stage
    row_id = queue_one_email()
    worker = start_worker(smtp)
    until(smtp.reached[stage].is_set, what)
    return worker, row_id


def killed_waiting_for_its_row(smtp: GatedSMTP, worker, row_id: str, what: str) -> None:
    """The server gives its answer to the message; the test holds the queue's row, and the worker
    is killed while it waits to write it."""
    holder = RowHolder(row_id)
    smtp.release.set()
    until(holder.waiters, what)
    waiters = holder.waiters()
    kill(worker)
    holder.release_after_the_dead(waiters)


def test_killed_after_taking_the_email_before_the_mail_server_answers_it_is_sent_once(
    smtp, settings
):
    smtp.hang()  # accepts the connection and says nothing
    queue_one_email()
    worker = start_worker(smtp)
    until(lambda: smtp.connections == 1, "the worker connects")
    kill(worker)
    assert DBTaskResult.objects.get().status == "RUNNING"  # taken, never finished
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 1


def test_killed_in_the_middle_of_the_conversation_before_handing_it_over_it_is_sent_once(
    smtp, settings
):
    # The worker waits to be invited to send the message.
    worker, _ = held_at(smtp, "DATA", "the worker asks to send the message")
    kill(worker)
    smtp.release.set()
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 1


def test_killed_after_the_ok_while_saying_goodbye_it_is_not_sent_again(smtp, settings):
    worker, _ = held_at(smtp, "QUIT", "the worker says goodbye")
    kill(worker)
    # The row already says sent: the queue is healthy and nothing is queued again.
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 1


def test_killed_while_queueing_the_retry_it_is_sent_once_when_the_server_is_back(smtp, settings):
    """The issue's case: the retry and the failure of this attempt are one transaction, so a
    death between them leaves neither, and the routine queues the email once."""
    smtp.final = "451"  # "try again later": the worker queues the retry, then marks the row
    worker, row_id = held_at(smtp, "end", "the server has the whole message")
    killed_waiting_for_its_row(smtp, worker, row_id, "the worker waits to mark its attempt failed")
    assert DBTaskResult.objects.count() == 1  # no retry was left behind
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 1


def test_killed_after_queueing_the_retry_the_retry_sends_it_once(smtp, settings):
    """Never lost while the mail server comes back within the retry window."""
    smtp.answer()
    smtp.final = "451"
    queue_one_email()
    worker = start_worker(smtp)
    until(lambda: DBTaskResult.objects.filter(status="READY").exists(), "the retry is queued")
    until(lambda: DBTaskResult.objects.filter(status="FAILED").exists(), "the attempt is recorded")
    kill(worker)
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 1


def test_the_one_window_killed_after_the_servers_ok_before_the_row_says_so_it_is_sent_twice(
    smtp, settings
):
    """The one window no queue can close (docs/deploy.md names it): the mail server has the
    email, and the worker dies before the queue's row says so. The routine sends it again."""
    worker, row_id = held_at(smtp, "end", "the server has the whole message")
    # "250 OK": the server has it.
    killed_waiting_for_its_row(smtp, worker, row_id, "the worker waits to mark its row sent")
    the_operators_routine(smtp, settings)
    assert delivered(smtp) == 2
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert "the one window" in text
