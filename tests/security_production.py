"""Asking the production configuration itself (DJANGO_DEBUG off), in a fresh interpreter."""

import atexit
import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
MIGRATE = ["manage.py", "migrate", "--noinput", "--verbosity", "0"]


def production_env(tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "intimacy.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "EMAIL_URL": "smtp+tls://mail.example.org:587",
        # Parsed only, or a copy of a migrated database for manage.py commands (see run).
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
    }
    env.update(overrides)
    return env


def python(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    """Python with these arguments and this environment, in the project's folder, its output
    captured as text."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@functools.cache
def migrated_database() -> Path:
    """A SQLite database migrated with the production settings, once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="ror-production-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    done = python(MIGRATE, production_env(folder), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "db.sqlite3"


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    """Runs python with these arguments and the production settings. A manage.py command gets a
    fresh copy of a migrated database: its checks read the database it would serve."""
    with tempfile.TemporaryDirectory() as tmp:
        if args[:1] == ["manage.py"] and "DATABASE_URL" not in overrides:
            shutil.copy(migrated_database(), Path(tmp) / "db.sqlite3")
        return python(args, production_env(Path(tmp), **overrides))


def production_values(expression: str, **overrides: str):
    """The JSON value of a Python expression evaluated after django.setup() with the
    production settings (`settings` is django.conf.settings)."""
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}))"
    )
    done = run(["-c", code], **overrides)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
