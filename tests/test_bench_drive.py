"""The benchmark's load driver (bench/drive.py) against a live server: the changes it makes are
real changes answered 200, the page after each one is the other partner's, and every couple it
moved is back at rest when it is done, so that the next run finds the data set as seeded."""

import asyncio

import pytest

from agreements.models import Event, Rule
from bench.drive import Client, Row, couples, run_paired, run_row
from bench.seed import seed

SIZES = ["--couples", "24", "--therapists", "1", "--clients", "3", "--page-sessions", "3"]


@pytest.fixture
def seeded(transactional_db, tmp_path):
    seed([*SIZES, "--action-couples", "6", "--out", str(tmp_path)])
    return tmp_path


def resting(folder) -> set[str]:
    rules = [couple.rule for couple in couples(folder, "actions")]
    return set(Rule.objects.filter(pk__in=rules).values_list("state", flat=True))


def test_the_round_trip_makes_real_changes_and_leaves_every_couple_at_rest(live_server, seeded):
    before = Event.objects.count()
    found = asyncio.run(
        run_row(Client(live_server.url), seeded, Row("actions", 3, 1.0, 0.0, "actions", 9, 10))
    )
    assert found["requests"] >= 9
    assert found["unexpected"] == 0 and found["statuses"] == {"200": found["requests"]}
    assert Event.objects.count() >= before + found["requests"]  # each change writes its events
    assert resting(seeded) == {Rule.State.PAUSED}


def test_each_change_is_followed_by_a_page_load_and_every_couple_is_left_at_rest(
    live_server, seeded
):
    found = asyncio.run(
        run_paired(
            Client(live_server.url), seeded, Row("after_change", 3, 0.5, 0.0, "actions", 6, 10)
        )
    )
    assert found["requests"] >= 6 and found["unexpected"] == 0
    assert found["statuses"] == {"200": found["requests"]}
    assert found["changes"]["statuses"] == {"200": found["changes"]["requests"]}
    assert resting(seeded) == {Rule.State.PAUSED}
