"""A cache that lives inside one process breaks log-out, rate limits, lockouts and the two-factor
replay guard as soon as a second worker starts: production refuses it, and its default is shared."""

import pytest
from allauth.core import ratelimit
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from tests.app_servers import create_cache_table
from tests.redis_server import RedisServer
from tests.security_production import ROOT, production_values, run

DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]


@pytest.mark.parametrize("cache_url", ["locmem://", "locmem://anything"])
def test_production_refuses_a_per_process_cache(cache_url):
    done = run(DEPLOY_CHECK, CACHE_URL=cache_url)
    assert done.returncode != 0
    assert "intimacy.E001" in done.stderr + done.stdout


def test_a_per_process_cache_stops_every_command_that_checks_not_only_check_deploy():
    done = run(["manage.py", "check"], CACHE_URL="locmem://")
    assert done.returncode != 0
    assert "intimacy.E001" in done.stderr


def test_production_accepts_the_database_cache():
    done = run(DEPLOY_CHECK, CACHE_URL="db://cache_table")
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_accepts_a_redis_cache_that_answers():
    with RedisServer() as redis:
        done = run(DEPLOY_CHECK, CACHE_URL=redis.url)
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_without_cache_url_uses_the_database_cache():
    caches = production_values("settings.CACHES")
    assert caches["default"]["BACKEND"] == "intimacy.cache.DatabaseCache"
    assert caches["default"]["LOCATION"] == "cache_table"


def test_development_keeps_the_per_process_cache_and_passes_the_checks():
    done = run(["manage.py", "check"], DJANGO_DEBUG="true", CACHE_URL="locmem://")
    assert done.returncode == 0, done.stderr


def test_the_image_the_compose_file_and_ci_never_deploy_a_per_process_cache():
    for name in ("Dockerfile", "docker-compose.yml", ".ci/run"):
        text = (ROOT / name).read_text()
        assert "locmem" not in text, name


def test_the_image_runs_the_checks_before_the_app_server_starts_any_worker():
    entrypoint = (ROOT / "Dockerfile").read_text()
    assert entrypoint.index("python manage.py check --deploy\n") < entrypoint.index("exec granian")


def test_a_burst_of_new_keys_never_evicts_a_rate_limit_from_the_production_cache(transactional_db):
    """Django's database cache, past MAX_ENTRIES, deletes a third of its live entries, the lowest
    keys first, and allauth's limits sort first: a few hundred sessions, or requests for as many
    new addresses, would wipe every lockout. Production's keeps a limit until its window ends."""
    production_caches = production_values("settings.CACHES")
    with override_settings(CACHES=production_caches):
        create_cache_table()
        request = RequestFactory().post("/accounts/password/reset/", REMOTE_ADDR="203.0.113.9")
        request.user = AnonymousUser()

        def reset_allowed() -> bool:
            return ratelimit.consume(request, action="reset_password", key="alice@example.com")

        while reset_allowed():
            pass
        for n in range(1000):
            cache.set(f"burst:{n}", "x", 3600)
        assert not reset_allowed()
