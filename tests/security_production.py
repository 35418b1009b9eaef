"""Asking the production configuration itself (DJANGO_DEBUG off), in a fresh interpreter."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "intimacy.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "EMAIL_URL": "smtp+tls://mail.example.org:587",
        # Parsed, never connected to.
        "DATABASE_URL": f"sqlite:///{tmp / 'unused.sqlite3'}",
    }
    env.update(overrides)
    return env


def run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=production_env(Path(tmp), **overrides),
            capture_output=True,
            text=True,
            timeout=120,
        )


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
