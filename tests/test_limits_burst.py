"""Limits that hold under bursts. Every limit that guards an email is fired at by simultaneous
requests, from several accounts and client addresses, through two real app servers of three
worker processes each that share the database and the cache (the database cache, then Redis), as
a deployment with several servers does. The emails are counted where the worker will find them:
in the queue (TASKS_BACKEND=database). A burst never queues more than the limit allows."""

import re
import secrets

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.core.internal.ratelimit import parse_rates
from django.test import Client
from django_tasks_db.models import DBTaskResult

from accounts import linking
from accounts.models import User
from agreements import consent, therapy
from intimacy import emails
from tests.app_servers import AppServers, Browser, create_cache_table
from tests.concurrency import run_together
from tests.conftest import PASSWORD, link, make_user, rules_of
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BURST = 6  # simultaneous requests: one for each worker process of the two servers


@pytest.fixture(scope="module", params=["database cache", "redis cache"])
def shared_servers(request, django_db_setup, django_db_blocker):
    redis = None
    if request.param == "redis cache":
        redis = RedisServer().start()
        cache_url = redis.url
    else:
        with django_db_blocker.unblock():
            create_cache_table()
        cache_url = "db://cache_table"
    try:
        with AppServers(
            2,
            workers=BURST // 2,
            CACHE_URL=cache_url,
            TASKS_BACKEND="database",
            TRUSTED_PROXY_COUNT="1",
        ) as servers:
            yield servers, redis
    finally:
        if redis is not None:
            redis.stop()


@pytest.fixture
def servers(shared_servers) -> list[str]:
    servers, redis = shared_servers
    # No count carries over from another test.
    if redis is not None:
        redis.stop()
        redis.start()
    else:
        create_cache_table()
    return servers


def queued(to: str, subject: str = "") -> int:
    """Emails in the queue for this address (whose subject holds `subject`)."""
    count = 0
    for row in DBTaskResult.objects.filter(task_path=emails.deliver.module_path):
        message = emails.unseal(row.args_kwargs["args"][0])
        if to in message.to and subject in message.subject:
            count += 1
    return count


def signed_in(user: User, client_ip: str | None = None) -> Browser:
    """A browser with a session of this user's (made as Django's test client makes one)."""
    client = Client()
    client.force_login(user)
    browser = Browser(client_ip)
    browser.cookies["sessionid"] = client.cookies["sessionid"].value
    return browser


def client_ip() -> str:
    return f"203.0.113.{secrets.randbelow(250) + 1}"


def limit_of(action: str, per: str) -> int:
    """allauth's limit on one kind of email, as this deployment configures it."""
    [rate] = [r for r in parse_rates(allauth_settings.RATE_LIMITS[action]) if r.per == per]
    return rate.amount


def statuses(responses) -> list:
    return sorted(getattr(r, "status", repr(r)) for r in responses)


def test_six_accounts_inviting_one_address_at_the_same_instant_queue_three_emails(servers):
    limit, _ = linking.INVITATION_EMAILS_PER_ADDRESS
    for round_ in range(3):
        target = f"target{round_}@example.org"
        inviters = [make_user(f"inviter{round_}-{n}@example.com", f"I{n}") for n in range(BURST)]
        browsers = [signed_in(user) for user in inviters]
        responses = run_together(
            *[
                lambda b=browser, s=servers[n % 2]: b.post(s, "/invite/", {"email": target})
                for n, browser in enumerate(browsers)
            ]
        )
        assert [r.location for r in responses] == ["/"] * BURST  # signed in, answered
        assert queued(target) == limit
        assert DBTaskResult.objects.filter(task_path=emails.deliver.module_path).count() == (
            limit * (round_ + 1)
        )


def test_one_account_inviting_many_addresses_at_the_same_instant_queues_five_emails(servers):
    limit, _ = linking.INVITATION_EMAILS_PER_ACCOUNT
    sender = make_user("sender@example.com", "Sender")
    browser = signed_in(sender)
    addresses = [f"someone{n}@example.org" for n in range(limit + 3)]
    responses = run_together(
        *[
            lambda a=address, s=servers[n % 2]: browser.post(s, "/invite/", {"email": a})
            for n, address in enumerate(addresses)
        ]
    )
    assert [r.location for r in responses] == ["/"] * len(addresses)
    assert sum(queued(address) for address in addresses) == limit


def test_a_burst_of_password_resets_for_one_address_queues_no_more_than_its_limit(servers):
    make_user("alice@example.com", "Alice")
    limit = limit_of("reset_password", "key")
    browsers = [Browser(client_ip()) for _ in range(limit + 3)]
    responses = run_together(
        *[
            lambda b=b, s=servers[n % 2]: b.post(
                s, "/accounts/password/reset/", {"email": "alice@example.com"}
            )
            for n, b in enumerate(browsers)
        ]
    )
    assert set(statuses(responses)) <= {302, 429}, statuses(responses)
    sent = queued("alice@example.com", "password")
    assert 1 <= sent <= limit
    assert sent == statuses(responses).count(302)


def sign_up(browser: Browser, server: str, email: str):
    return browser.post(
        server,
        "/accounts/signup/",
        {
            "email": email,
            "password1": PASSWORD,
            "display_name": "New",
            "account_type": "partner",
        },
    )


def test_a_burst_of_sign_ups_with_one_new_address_makes_one_account_and_one_email(servers):
    limit = limit_of("confirm_email", "key")
    address = "newcomer@example.org"
    browsers = [Browser(client_ip()) for _ in range(BURST)]
    responses = run_together(
        *[lambda b=b, s=servers[n % 2]: sign_up(b, s, address) for n, b in enumerate(browsers)]
    )
    assert 500 not in statuses(responses), [r.text[:300] for r in responses if r.status == 500]
    assert User.objects.filter(email=address).count() == 1
    # The confirmation, or "you already have an account": one email to the address in all.
    assert queued(address) == limit == 1

    again = [Browser(client_ip()) for _ in range(BURST)]
    run_together(
        *[lambda b=b, s=servers[n % 2]: sign_up(b, s, address) for n, b in enumerate(again)]
    )
    assert queued(address) == limit


def test_one_partner_agreeing_to_a_therapist_many_times_at_once_sends_the_therapist_one_email(
    servers, settings
):
    # A real hasher: bob enters his password again on a server, which knows no test hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    alice, bob = (make_user(f"{n}@example.com", n.title()) for n in ("alice", "bob"))
    dana = make_user("dana@example.com", "Dana", therapist=True)
    alice_seat, _ = link(alice, bob)
    _, token = therapy.create_client_link(therapist=dana)
    access = therapy.ask_partner(partner=alice_seat, token=token, scope="rules")
    browser = signed_in(bob)
    reauthenticated = browser.post(servers[0], "/accounts/reauthenticate/", {"password": PASSWORD})
    assert reauthenticated.status == 302
    responses = run_together(
        *[
            lambda s=servers[n % 2]: browser.post(
                s, "/agreement/therapist/", {"action": "agree", "access": access.pk}
            )
            for n in range(BURST)
        ]
    )
    assert {r.location for r in responses} == {"/agreement/therapist/"}
    assert queued("dana@example.com") == 1


def test_a_burst_of_changes_sends_the_partner_one_update_email(servers):
    alice, bob = (make_user(f"{n}@example.com", n.title()) for n in ("alice", "bob"))
    alice_seat, bob_seat = link(alice, bob)
    browser = signed_in(alice)
    rules = rules_of(alice_seat)[:BURST]
    # Bob answered these rules first: Alice's not yet reveals both answers, news worth an email
    # (an answer alone is sealed and sends none).
    for rule in rules:
        consent.accept(partner=bob_seat, rule=rule, version_id=rule.pending_version_id)
    DBTaskResult.objects.all().delete()
    responses = run_together(
        *[
            lambda r=rule, s=servers[n % 2]: browser.post(
                s, f"/agreement/rules/{r.pk}/not-yet/", {"version": r.pending_version_id}
            )
            for n, rule in enumerate(rules)
        ]
    )
    assert statuses(responses) == [302] * len(rules)
    assert queued("bob@example.com") == 1
    assert re.search(
        r"update", emails.unseal(DBTaskResult.objects.get().args_kwargs["args"][0]).subject
    )
