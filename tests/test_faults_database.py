"""The database going away in the middle of a request: the person gets the styled error page
(never a stack trace), nothing is half applied, and the next request works."""

import pytest
from django.db import OperationalError, close_old_connections, connection, connections
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from agreements.models import Acceptance, Event, Rule
from tests.conftest import client_for, link, make_user, rules_of

pytestmark = pytest.mark.django_db(transaction=True)


def cut_the_database(monkeypatch) -> None:
    """From now on the request's connection is gone: on PostgreSQL its server process is
    terminated from another connection; on SQLite every further statement fails."""
    if connection.vendor == "postgresql":
        pid = connection.connection.info.backend_pid
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()
    else:

        def gone(self, *args, **kwargs):
            raise OperationalError("disk I/O error")

        monkeypatch.setattr(CursorWrapper, "_execute", gone)


@pytest.fixture
def partners():
    alice, bob = make_user("alice@example.com", "Alice"), make_user("bob@example.com", "Bob")
    return link(alice, bob)


def test_the_database_going_away_mid_action_fails_cleanly_and_applies_nothing(
    partners, monkeypatch
):
    alice, bob = partners
    rule = rules_of(alice)[0]
    version = rule.pending_version_id
    client = client_for(alice.user)
    client.raise_request_exception = False
    assert client.get(reverse("agreements:agreement")).status_code == 200
    events_before = Event.objects.count()

    execute = CursorWrapper.execute
    with monkeypatch.context() as patch:

        def cut_before_the_event(self, sql, params=None):
            # The acceptance row is written; the event and the commit never happen.
            if sql.startswith("INSERT") and "agreements_event" in sql:
                cut_the_database(patch)
            return execute(self, sql, params)

        patch.setattr(CursorWrapper, "execute", cut_before_the_event)
        response = client.post(reverse("agreements:accept", args=[rule.pk]), {"version": version})

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "Traceback" not in page
    assert "OperationalError" not in page and "terminating connection" not in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]

    # What Django does at the end of every request: an unusable connection is dropped.
    close_old_connections()
    assert not Acceptance.objects.filter(version_id=version).exists()
    assert Event.objects.count() == events_before
    assert Rule.objects.get(pk=rule.pk).state == rule.state

    # The next request reconnects and works: the same acceptance goes through.
    response = client.post(reverse("agreements:accept", args=[rule.pk]), {"version": version})
    assert response.status_code == 302
    assert Acceptance.objects.filter(version_id=version, partner=alice).count() == 1


def test_a_server_whose_database_connections_were_cut_answers_the_next_request():
    """A real server with persistent connections (DATABASE_CONN_MAX_AGE=60, as in the compose
    file): its connection is terminated between two requests and it reconnects."""
    from tests.app_servers import AppServers, Browser, create_cache_table

    if connection.vendor != "postgresql":
        # On SQLite there is no server process to cut; the test above covers the failure.
        assert connection.vendor == "sqlite"
        return
    create_cache_table()
    with AppServers(1, DATABASE_CONN_MAX_AGE="60") as (server,):
        browser = Browser()
        assert browser.get(server, "/healthz").status == 200
        assert browser.get(server, "/accounts/login/").status == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        response = browser.get(server, "/accounts/login/")
        assert response.status == 200
        assert Client().get("/healthz").status_code == 200
