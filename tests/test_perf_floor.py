"""The benchmark's signed-in floor, and the two cheap steps of the signed-in path (issue 17)."""

import pytest
from django.test import Client

from intimacy.cache import RedisCache


@pytest.fixture(autouse=True)
def _floors(settings):
    settings.ROOT_URLCONF = "tests.floor_urls"


def test_the_signed_in_floor_answers_a_signed_in_person_and_refuses_anyone_else(alice_client):
    assert alice_client.get("/bench/floor/signed-in").status_code == 200
    # Signed out it is not a cheaper page that passes for the floor: the benchmark counts a 403.
    assert Client().get("/bench/floor/signed-in").status_code == 403
    assert Client().get("/bench/floor").status_code == 200


def test_the_redis_cache_keeps_one_client_per_connection_pool():
    backend = RedisCache("redis://127.0.0.1:6379/0", {})
    client = backend._cache.get_client(write=True)
    # Building a client does not connect: no Redis is needed to see that it is reused.
    assert backend._cache.get_client(write=True) is client
    assert backend._cache.get_client(write=False) is client  # one server: one pool
