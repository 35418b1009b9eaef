"""The email queue: what is queued and when, the hourly throttle, presence, the sealed payload,
and how a stuck queue is reported (/healthz, manage.py check_queue)."""

import io
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import linking
from accounts.models import Partner
from agreements import consent, notify
from agreements.rounds import round_of
from intimacy import emails
from tests.conftest import fresh, rules_of
from tests.test_settings_env import import_settings, production_env

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def _no_presence():
    cache.clear()


@pytest.fixture
def database_queue(settings):
    settings.TASKS = DATABASE_QUEUE


def accept(seat: Partner, rule=None) -> None:
    """An answer the other partner sees at once, so it is worth an email: a "not yet" to a
    wording the other partner had answered already (their yes stands revealed with it). An
    answer alone is sealed until they answer, and sends none (tests/test_sealed.py)."""
    rule = fresh(rule or rules_of(seat)[0])
    other = rule.agreement.couple.partners.exclude(pk=seat.pk).get()
    waiting = rule.pending_version_id
    if not round_of(rule).answered_by(other.pk):
        consent.accept(partner=other, rule=rule, version_id=waiting)  # sealed: no email
    consent.not_yet(partner=seat, rule=fresh(rule), version_id=waiting)


def stamp(seat: Partner):
    return Partner.objects.get(pk=seat.pk).notified_at


def updates_to(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to and "update" in m.subject]


def test_the_throttle_is_stamped_after_commit_when_the_email_is_queued(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        accept(bob)
        # Inside the action's transaction nothing touches alice's seat: no lock on it there.
        assert stamp(alice) is None
    assert len(callbacks) == 1
    callbacks[0]()
    assert stamp(alice) is not None
    assert len(updates_to(mailoutbox, "alice@example.com")) == 1


def test_at_most_one_update_email_an_hour(couple, mailoutbox, django_capture_on_commit_callbacks):
    alice, bob = couple
    first, second = rules_of(bob)[:2]
    with django_capture_on_commit_callbacks(execute=True):
        accept(bob, first)
        accept(bob, second)
    assert len(updates_to(mailoutbox, "alice@example.com")) == 1


def test_a_rolled_back_action_queues_nothing_and_stamps_nothing(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        accept(bob)
        raise RuntimeError("rolled back")
    assert mailoutbox == []
    assert stamp(alice) is None


def test_no_update_email_to_a_partner_who_has_the_agreement_open(
    couple, alice_client, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    assert alice_client.get(reverse("agreements:poll")).status_code == 200
    assert notify.is_present(alice.user_id)
    with django_capture_on_commit_callbacks(execute=True):
        accept(bob)
    assert updates_to(mailoutbox, "alice@example.com") == []
    assert stamp(alice) is None  # not spent: the next change after she leaves is emailed

    cache.delete(notify._presence_key(alice.user_id))  # her page closed two minutes ago
    with django_capture_on_commit_callbacks(execute=True):
        accept(bob, rules_of(bob)[1])
    assert len(updates_to(mailoutbox, "alice@example.com")) == 1


class RecordingCache:
    def __init__(self) -> None:
        self.written: list[tuple] = []

    def get(self, key):
        return None

    def set(self, *args) -> None:
        self.written.append(args)


class BrokenCache:
    def get(self, *args):
        raise ConnectionError("cache down")

    set = get


def test_presence_is_kept_in_the_shared_cache_for_about_two_minutes(couple, monkeypatch):
    alice, bob = couple
    recording = RecordingCache()
    monkeypatch.setattr(notify, "cache", recording)
    notify.mark_present(alice.user_id)
    [(key, _, timeout)] = recording.written
    assert key == notify._presence_key(alice.user_id)
    assert 60 <= timeout <= 180


def test_a_broken_cache_neither_breaks_the_poll_nor_stops_the_email(
    couple, alice_client, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    monkeypatch.setattr(notify, "cache", BrokenCache())
    assert alice_client.get(reverse("agreements:poll")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        accept(bob)
    assert len(updates_to(mailoutbox, "alice@example.com")) == 1


def test_seed_demo_leaves_every_partner_able_to_receive_the_update_email(
    db, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    assert mailoutbox == []  # muted
    assert not Partner.objects.filter(notified_at__isnull=False).exists()

    bob = Partner.objects.get(user__email="bob@example.com", left_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        consent.propose_rule(
            partner=bob, agreement=bob.couple.agreement, title="A new one", text="Some words."
        )
    assert len(updates_to(mailoutbox, "alice@example.com")) == 1


def test_a_queued_email_is_sealed_its_address_and_link_are_not_readable_in_the_queue(
    alice, database_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = linking.create_invitation(inviter=alice, email="bob@example.com")
    [row] = DBTaskResult.objects.all()
    stored = json.dumps(row.args_kwargs)
    assert "bob@example.com" not in stored
    assert invitation.token not in stored
    message = emails.unseal(row.args_kwargs["args"][0])
    assert message.to == ["bob@example.com"]
    assert invitation.token in message.body


def test_healthz_answers_503_when_an_email_waits_longer_than_the_limit(
    alice, database_queue, client, settings
):
    assert client.get("/healthz").status_code == 200
    emails.deliver.enqueue(emails.seal(emails.render("partner_update", "a@example.com")))
    assert client.get("/healthz").status_code == 200  # just queued: a worker has time
    DBTaskResult.objects.update(
        enqueued_at=timezone.now() - timedelta(seconds=settings.EMAIL_QUEUE_STUCK_SECONDS + 60)
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "email queue stuck"
    assert response.json()["oldest_email_waiting_seconds"] > settings.EMAIL_QUEUE_STUCK_SECONDS


def test_healthz_does_not_count_a_retry_that_is_not_due_yet(alice, database_queue, client):
    later = timezone.now() + timedelta(hours=2)
    sealed = emails.seal(emails.render("partner_update", "a@example.com"))
    emails.deliver.using(run_after=later).enqueue(sealed, attempt=2)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert client.get("/healthz").status_code == 200


def test_check_queue_reports_a_stuck_queue_and_an_attempt_that_never_finished(
    alice, database_queue, settings
):
    out = io.StringIO()
    call_command("check_queue", stdout=out)
    assert "healthy" in out.getvalue()

    sealed = emails.seal(emails.render("partner_update", "a@example.com"))
    emails.deliver.enqueue(sealed)
    long_ago = timezone.now() - timedelta(seconds=settings.EMAIL_QUEUE_STUCK_SECONDS + 60)
    DBTaskResult.objects.update(enqueued_at=long_ago)
    with pytest.raises(CommandError, match="is `manage.py db_worker` running"):
        call_command("check_queue", stdout=io.StringIO())

    # A worker died in the middle of sending it.
    DBTaskResult.objects.update(status="RUNNING", started_at=long_ago)
    with pytest.raises(CommandError, match="never finished"):
        call_command("check_queue", stdout=io.StringIO())
    call_command("check_queue", "--requeue", stdout=io.StringIO())
    assert DBTaskResult.objects.ready().count() == 1
    assert emails.queue_problems() == []


def test_production_settings_queue_emails_in_the_database_and_development_runs_them_at_once():
    code = "import json, intimacy.settings as s; print(json.dumps(s.TASKS))"
    production = import_settings(production_env(), code)
    assert json.loads(production.stdout)["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    development = import_settings(
        {"DJANGO_DEBUG": "true", "DATABASE_URL": "sqlite:///:memory:"}, code
    )
    assert json.loads(development.stdout)["default"]["BACKEND"].endswith("ImmediateBackend")


def test_an_unknown_tasks_backend_is_refused_by_name():
    result = import_settings(production_env(TASKS_BACKEND="celery"))
    assert result.returncode != 0
    assert "TASKS_BACKEND" in result.stderr


def test_bad_retry_delays_are_refused_by_name():
    result = import_settings(production_env(EMAIL_RETRY_DELAYS_SECONDS="60,soon"))
    assert result.returncode != 0
    assert "EMAIL_RETRY_DELAYS_SECONDS" in result.stderr
