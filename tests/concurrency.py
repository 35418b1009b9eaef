"""Running calls at the same moment, each in its own thread and database connection, for the
race tests (real concurrent connections, never mocks), and what the race tests of the agreement
share: fresh couples, the rounds, what a partner may be told when the other acted first, and the
invariants checked after every round.

RACE_ROUNDS sets the rounds per test (default 30 on PostgreSQL, 6 on SQLite, where transactions
are serialised by the database lock and the races are tame)."""

import os
import threading

import pytest
from django.db import connection, connections

from accounts import linking
from agreements import consent
from agreements.invariants import check_agreement
from agreements.models import Agreement
from tests.conftest import link, make_user, rules_of

ROUNDS = int(os.environ.get("RACE_ROUNDS") or (30 if connection.vendor == "postgresql" else 6))
# What a partner may be told when the other acted first; anything else is a bug (a 500).
EXPECTED = (consent.ConsentError, linking.LinkingError)
# A race test module's marks: real transactions, and no transaction lost a race (tests/conftest.py).
RACES = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_transaction_lost_a_race"),
]


def run_together(*calls) -> list:
    """Each call's result, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects what each side got
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class Couples:
    """Fresh couples on demand: every round wants a rule nobody has answered yet."""

    def __init__(self):
        self.made = 0

    def new(self):
        self.made += 1
        n = self.made
        return link(make_user(f"a{n}@example.com", "A"), make_user(f"b{n}@example.com", "B"))

    def proposals(self):
        """Default rules nobody has answered, with their couple, as many as wanted."""
        while True:
            alice, bob = self.new()
            for rule in rules_of(alice):
                yield alice, bob, rule


def unexpected(results) -> list:
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, EXPECTED)]


def assert_consistent(rule_or_agreement) -> None:
    agreement = (
        rule_or_agreement
        if isinstance(rule_or_agreement, Agreement)
        else Agreement.objects.get(pk=rule_or_agreement.agreement_id)
    )
    assert check_agreement(agreement) == []
