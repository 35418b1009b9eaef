"""A deployment works or does not start: the image's own start (its entrypoint, taken from the
Dockerfile, with the app server on a free local port) against a brand-new database, with nothing
done by hand. `migrate` creates everything, the cache table included; a forgotten step, a missing
key or a cache that cannot be reached stops the start with one line naming what to do, before any
page could answer 500."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.db import connection

from tests.app_servers import HOST, Browser, call, collect_static, free_port
from tests.redis_server import RedisServer
from tests.security_production import MIGRATE, python

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENTRYPOINT = re.compile(r"^COPY <<'EOF' /usr/local/bin/docker-entrypoint\n(.*?)^EOF$", re.M | re.S)
# One problem, one line: Django's check output ("?: (intimacy.E003) ...") or ours.
PROBLEM = re.compile(r"^(?:\?: \()?(intimacy\.E\d{3})\)? (.*)$", re.M)


def entrypoint(port: int) -> str:
    """The image's entrypoint as the Dockerfile writes it, serving on 127.0.0.1:port."""
    script = ENTRYPOINT.search((ROOT / "Dockerfile").read_text()).group(1)
    served = "--host 0.0.0.0 --port 8000"
    assert served in script
    return script.replace(served, f"--host {HOST} --port {port}")


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database nothing has been done to, on the server the tests use."""
    if connection.vendor != "postgresql":
        folder = ROOT / "var" / f"start-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        yield f"sqlite:///{folder / 'db.sqlite3'}"
        shutil.rmtree(folder, ignore_errors=True)
        return
    db = connection.settings_dict
    name = f"ror_start_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = {
        "host": db["HOST"] or HOST,
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    yield f"postgres://{auth}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production(database_url: str, **overrides: str | None) -> dict[str, str]:
    """What the compose file gives the image, for one server on this machine."""
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "EMAIL_URL": "smtp+tls://mail.example.org:587",  # the worker's business: never reached
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": "database",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


class Image:
    """The entrypoint running in the background until the test ends; `output` once it has."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.output = ""
        self.process = subprocess.Popen(
            ["sh", "-c", entrypoint(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    @property
    def server(self) -> str:
        return f"{HOST}:{self.port}"

    def serves(self, timeout: float = 180) -> bool:
        """True once /healthz answers 200; False if it stopped first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if call(self.server, "GET", "/healthz", timeout=5).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the image neither served nor stopped")

    def stop(self) -> int | None:
        """Its exit code, or None if it was still serving."""
        code = self.process.poll()
        if code is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.output, _ = self.process.communicate(timeout=60)
        return code


def start(env: dict[str, str]) -> tuple[int | None, str]:
    """Starts the image and stops it once it serves or has stopped by itself."""
    image = Image(env)
    image.serves()
    code = image.stop()
    return code, image.output


def problems(output: str) -> list[tuple[str, str]]:
    return PROBLEM.findall(output)


@pytest.fixture(scope="module")
def static_files():
    """The image collects them at build time."""
    collect_static(production("sqlite:///unused"))


def test_the_image_on_an_empty_database_creates_everything_and_answers_log_ins_without_500(
    empty_database, static_files
):
    env = production(empty_database)
    image = Image(env)
    try:
        assert image.serves(), image.stop() or image.output
        person = Browser()
        assert person.get(image.server, "/accounts/login/").status == 200
        # A failed log-in is counted in the cache (allauth's limits): the table must be there.
        for _ in range(2):
            response = person.post(
                image.server,
                "/accounts/login/",
                {"login": "nobody@example.org", "password": "wrong-password-1"},
            )
            assert response.status == 200, response.text[:500]
            assert "Something went wrong" not in response.text
        check = python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        image.stop()
    assert problems(image.output) == []


def test_the_image_without_migrate_refuses_to_start_naming_the_step(empty_database):
    code, output = start(production(empty_database, MIGRATE_ON_START="false"))
    assert code not in (None, 0)
    [(check_id, message)] = problems(output)
    assert check_id == "intimacy.E003"
    assert message.endswith("run `manage.py migrate`.")
    assert "granian" not in output.lower()  # no app server ever started


def test_the_image_without_an_encryption_key_refuses_to_start_with_one_line(empty_database):
    code, output = start(production(empty_database, FIELD_ENCRYPTION_KEYS=None))
    assert code not in (None, 0)
    assert output.strip().splitlines() == [
        "manage.py: FIELD_ENCRYPTION_KEYS is required when DJANGO_DEBUG is off."
    ]


def test_the_image_with_a_key_that_is_not_a_fernet_key_refuses_to_start(empty_database):
    code, output = start(production(empty_database, FIELD_ENCRYPTION_KEYS="not-a-key"))
    assert code not in (None, 0)
    assert [check_id for check_id, _ in problems(output)] == ["intimacy.E002"]
    assert "Traceback" not in output


def test_the_image_with_an_unreachable_cache_refuses_to_start_naming_it(empty_database):
    closed = f"redis://{HOST}:{free_port()}/0"  # nothing listens there
    code, output = start(production(empty_database, CACHE_URL=closed))
    assert code not in (None, 0)
    [(check_id, message)] = problems(output)
    assert check_id == "intimacy.E004"
    assert "check CACHE_URL and that the cache server runs" in message
    assert "Traceback" not in output


def test_the_image_with_a_redis_cache_that_runs_starts(empty_database, static_files):
    with RedisServer() as redis:
        code, output = start(production(empty_database, CACHE_URL=redis.url))
    assert code is None, output
    assert problems(output) == []


def migrated(database_url: str) -> None:
    done = python(MIGRATE, production(database_url), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_database_cache_table_that_migrate_did_not_make_is_refused_naming_createcachetable(
    empty_database,
):
    migrated(empty_database)
    env = production(empty_database, CACHE_URL="db://another_cache", MIGRATE_ON_START="false")
    code, output = start(env)
    assert code not in (None, 0)
    [(check_id, message)] = problems(output)
    assert check_id == "intimacy.E004"
    assert "run `manage.py createcachetable`" in message


def test_an_app_server_started_by_hand_on_an_unmigrated_database_refuses_to_start(
    empty_database,
):
    """Not only the image: every app server process checks when it loads the app."""
    done = subprocess.run(
        [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            HOST,
            "--port",
            str(free_port()),
            "--no-ws",
            "--workers",
            "1",
            "intimacy.wsgi:application",
        ],
        cwd=ROOT,
        env=production(empty_database),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    [(check_id, message)] = problems(done.stdout + done.stderr)
    assert check_id == "intimacy.E003"
    assert "Traceback" not in done.stdout + done.stderr


def test_a_server_with_other_keys_than_the_ones_that_wrote_the_data_refuses_to_start(
    empty_database,
):
    migrated(empty_database)
    writer = production(empty_database)
    code = (
        "import django; django.setup(); from accounts.models import User, Invitation; "
        "Invitation.new(User.objects.create_user('a@example.org', 'a-long-pass-1')).save()"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**writer, "DJANGO_SETTINGS_MODULE": "intimacy.settings"},
        check=True,
        timeout=120,
    )
    stranger = {**writer, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    code, output = start({**stranger, "MIGRATE_ON_START": "false"})
    assert code not in (None, 0)
    [(check_id, message)] = problems(output)
    assert check_id == "intimacy.E006"
    assert "accounts.Invitation.token" in message
    # With the old key behind the new one (a rotation under way) it reads everything again.
    keys = [stranger["FIELD_ENCRYPTION_KEYS"], writer["FIELD_ENCRYPTION_KEYS"]]
    rotating = {**stranger, "FIELD_ENCRYPTION_KEYS": ",".join(keys)}
    check = python(["manage.py", "check"], rotating)
    assert check.returncode == 0, check.stdout + check.stderr
