"""Settings come from the environment and refuse bad or missing values loudly, naming them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from intimacy.env import envbool, envint, envlist, envstr

ROOT = Path(__file__).resolve().parent.parent

# What the production settings are asked about, printed as JSON by a fresh interpreter.
REPORT = (
    "import json, intimacy.settings as s; print(json.dumps({name: getattr(s, name) for name in ["
    "'DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
    " 'SECURE_PROXY_SSL_HEADER', 'SECURE_HSTS_SECONDS', 'ALLOWED_HOSTS']}))"
)


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 60,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "EMAIL_URL": "smtp+tls://mail.example.org:587",
        # Parsed, never connected to: importing the settings must not touch var/.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:5432/nothing",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def import_settings(
    env: dict[str, str], code: str = "import intimacy.settings"
) -> subprocess.CompletedProcess:
    """Imports the settings in a fresh interpreter that sees only the given environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_envbool_refuses_a_value_that_is_not_true_or_false(monkeypatch, raw):
    monkeypatch.setenv("RR_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="RR_TEST_FLAG"):
        envbool("RR_TEST_FLAG", False)


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)]
)
def test_envbool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("RR_TEST_FLAG", raw)
    assert envbool("RR_TEST_FLAG", not expected) is expected


def test_envbool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("RR_TEST_FLAG", raising=False)
    assert envbool("RR_TEST_FLAG", True) is True


@pytest.mark.parametrize("raw", ["ten", "3.5", "1e3"])
def test_envint_refuses_a_value_that_is_not_a_whole_number(monkeypatch, raw):
    monkeypatch.setenv("RR_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match="RR_TEST_NUMBER"):
        envint("RR_TEST_NUMBER", 1)


def test_envint_reads_a_number_and_falls_back_when_empty(monkeypatch):
    monkeypatch.setenv("RR_TEST_NUMBER", "42")
    assert envint("RR_TEST_NUMBER", 1) == 42
    monkeypatch.setenv("RR_TEST_NUMBER", "")
    assert envint("RR_TEST_NUMBER", 1) == 1


def test_envlist_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("RR_TEST_LIST", " example.org, ,www.example.org ")
    assert envlist("RR_TEST_LIST", []) == ["example.org", "www.example.org"]


def test_envstr_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("RR_TEST_TEXT", raising=False)
    assert envstr("RR_TEST_TEXT", "fallback") == "fallback"


def test_production_without_a_secret_key_refuses_to_start():
    result = import_settings(production_env(DJANGO_SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_without_encryption_keys_refuses_to_start():
    result = import_settings(production_env(FIELD_ENCRYPTION_KEYS=None))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is required" in result.stderr


def test_production_without_an_email_url_refuses_to_start():
    result = import_settings(production_env(EMAIL_URL=None))
    assert result.returncode != 0
    assert "EMAIL_URL" in result.stderr


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DJANGO_DEBUG", "sometimes"),
        ("SESSION_IDLE_SECONDS", "an hour"),
        ("CACHE_URL", "memcached://x"),
    ],
)
def test_a_bad_value_stops_the_settings_naming_the_variable(name, raw):
    result = import_settings(production_env(**{name: raw}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_production_settings_are_secure_behind_a_tls_proxy():
    result = import_settings(production_env(), REPORT)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout.strip().splitlines()[-1])
    assert settings["DEBUG"] is False
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["SECURE_HSTS_SECONDS"] > 0
    assert settings["ALLOWED_HOSTS"] == ["example.org"]


def test_https_redirect_can_be_turned_off_for_local_http():
    result = import_settings(production_env(DJANGO_SECURE_SSL_REDIRECT="false"), REPORT)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout.strip().splitlines()[-1])
    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["SESSION_COOKIE_SECURE"] is True
