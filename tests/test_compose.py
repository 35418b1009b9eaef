"""The docker-compose deployment and its image: read as files, since no Docker engine runs here."""

import re
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from tests.security_production import run

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_WEB_ENV = {
    "DATABASE_URL",
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "DJANGO_ALLOWED_HOSTS",
}
ENV_READ = re.compile(
    r"""(?:env(?:bool|int|list|str)\(|os\.environ\.get\(|os\.getenv\(|os\.environ\[)\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def web_environment() -> dict[str, str]:
    environment = compose()["services"]["web"]["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def names_read_by_settings() -> set[str]:
    source = (ROOT / "intimacy" / "settings.py").read_text() + (
        ROOT / "intimacy" / "env.py"
    ).read_text()
    return set(ENV_READ.findall(source))


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_compose_has_a_database_and_a_web_service():
    assert {"db", "web"} <= set(compose()["services"])


def test_compose_database_is_postgres_with_a_healthcheck_and_a_named_volume():
    config = compose()
    db = config["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume_names = {volume.split(":", 1)[0] for volume in db["volumes"]}
    assert volume_names & set(config["volumes"]), "the database must live in a named volume"


def test_compose_web_is_built_from_the_dockerfile_and_waits_for_a_healthy_database():
    web = compose()["services"]["web"]
    build = web["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = ROOT / build["context"]
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == ROOT / "Dockerfile"
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert any(str(port).endswith(":8000") for port in web["ports"])


def test_compose_web_env_names_are_read_by_settings():
    read_by_image = {
        name for name in web_environment() if re.search(rf"\${{?{name}\b", dockerfile())
    }
    unknown = set(web_environment()) - names_read_by_settings() - read_by_image
    assert not unknown, f"docker-compose.yml sets variables nothing reads: {sorted(unknown)}"


def test_compose_web_sets_the_required_settings():
    assert set(web_environment()) >= REQUIRED_WEB_ENV
    assert names_read_by_settings() >= REQUIRED_WEB_ENV


def test_compose_secrets_come_from_the_host_and_stop_compose_when_missing():
    environment = web_environment()
    for name in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), name


def test_compose_database_url_points_at_the_db_service():
    assert re.fullmatch(r"postgres://rules:[^@]+@db:5432/rules", web_environment()["DATABASE_URL"])


def test_compose_uses_the_database_cache_whose_table_migrate_creates():
    assert web_environment()["CACHE_URL"] == "db://cache_table"
    # No set-up step of its own: intimacy's first migration creates the table.
    assert "createcachetable" not in dockerfile()
    migration = (ROOT / "intimacy" / "migrations" / "0001_cache_table.py").read_text()
    assert 'call_command("createcachetable"' in migration


def test_compose_is_a_try_out_by_default_and_real_use_turns_it_off_with_one_variable():
    environment = web_environment()
    assert environment["TRY_OUT"] == "${TRY_OUT:-true}"
    # The redirect to https follows TRY_OUT (settings), so real use has nothing more to set.
    assert "DJANGO_SECURE_SSL_REDIRECT" not in environment


def compose_defaults(**overrides: str) -> dict[str, str]:
    """The web service's environment as compose would give it with nothing exported but the two
    secrets (and what `overrides` exports), pointed at a migrated copy of a database."""
    exported = {
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **overrides,
    }

    def resolve(match: re.Match) -> str:
        name, operator, default = match.groups()
        if name in exported:
            return exported[name]
        assert operator == ":-", f"compose would refuse to start without {name}"
        return default

    env = {
        name: re.sub(r"\$\{([A-Z_]+)(:[-?])([^}]*)\}", resolve, value)
        for name, value in web_environment().items()
    }
    del env["DATABASE_URL"]  # the db service: run() gives a migrated copy instead
    return env


def deploy_check(env: dict[str, str]):
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)


def test_check_deploy_passes_for_the_compose_files_own_try_out_settings():
    done = deploy_check(compose_defaults())
    assert done.returncode == 0, done.stdout + done.stderr
    # Said, not hidden: what a try-out accepts is named in the output.
    output = done.stdout + done.stderr
    assert "intimacy.I001" in output
    assert "(2 silenced)" in output


def test_check_deploy_passes_for_the_readmes_real_use_of_the_compose_file():
    real_use = compose_defaults(
        TRY_OUT="false",
        DJANGO_ALLOWED_HOSTS="rules.example.org",
        SITE_URL="https://rules.example.org",
        TRUSTED_PROXY_COUNT="1",
        EMAIL_URL="smtp+tls://user:secret@smtp.example.org:587",
    )
    done = deploy_check(real_use)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues (0 silenced)" in done.stdout


def test_real_use_that_forgot_the_mail_server_does_not_start():
    forgot = compose_defaults(
        TRY_OUT="false",
        DJANGO_ALLOWED_HOSTS="rules.example.org",
        SITE_URL="https://rules.example.org",
    )
    done = deploy_check(forgot)
    assert done.returncode != 0
    assert "mail.E001" in done.stderr


def test_a_try_out_that_answers_to_a_public_host_is_refused_by_every_command():
    public = compose_defaults(
        DJANGO_ALLOWED_HOSTS="rules.example.org", SITE_URL="https://rules.example.org"
    )
    done = run(["manage.py", "check"], **public)
    assert done.returncode != 0
    [line] = [line for line in done.stderr.splitlines() if "intimacy.E007" in line]
    assert "rules.example.org" in line and "TRY_OUT=false" in line


def test_dockerfile_installs_the_production_lock_with_hashes():
    text = dockerfile()
    assert re.search(r"^FROM python:3\.13-slim", text, re.MULTILINE)
    assert re.search(r"pip install --require-hashes -r \S*requirements\.lock", text)
    assert "requirements-dev.lock" not in text


def test_dockerfile_collects_static_files_at_build_time():
    assert re.search(r"^RUN .*\bcollectstatic --noinput", dockerfile(), re.MULTILINE | re.DOTALL)


def test_dockerfile_runs_migrations_then_the_app_server_as_a_non_root_user():
    text = dockerfile()
    migrate = text.index("manage.py migrate --noinput")
    check = text.index("python manage.py check --deploy\n")
    server = text.index("exec granian --interface wsgi --host 0.0.0.0 --port 8000")
    assert migrate < check < server
    assert "intimacy.wsgi:application" in text[server:]
    assert "${WEB_CONCURRENCY:-2}" in text and "${WEB_THREADS:-4}" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_dockerfile_keeps_build_time_keys_out_of_the_image_environment():
    env_lines = re.findall(r"^ENV\b.*?(?<!\\)$", dockerfile(), re.MULTILINE | re.DOTALL)
    assert not any("SECRET_KEY" in line or "FIELD_ENCRYPTION_KEYS" in line for line in env_lines)


def test_docker_build_context_leaves_out_local_secrets_and_the_venv():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"var", ".venv", ".git"} <= ignored


def test_compose_web_queues_emails_in_the_database():
    assert web_environment()["TASKS_BACKEND"] == "database"


def test_compose_worker_runs_the_same_image_and_settings_as_web():
    services = compose()["services"]
    worker, web = services["worker"], services["web"]
    assert worker["build"] == web["build"]
    assert worker["environment"] == web["environment"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker.get("restart") in {"unless-stopped", "always"}
    assert "ports" not in worker, "the worker serves nothing"


def test_compose_worker_sends_the_queue_once_the_migrations_are_applied():
    command = compose()["services"]["worker"]["command"]
    script = command if isinstance(command, str) else " ".join(command)
    assert re.search(r"manage\.py migrate --check.*exec python manage\.py db_worker", script)
    assert "--reload" not in script.replace("--no-reload", "")


def test_compose_worker_health_is_the_queue_not_the_web_check_of_the_image():
    # The image's HEALTHCHECK asks /healthz on port 8000, which the worker does not serve.
    test = compose()["services"]["worker"]["healthcheck"]["test"]
    assert "check_queue" in " ".join(test)


def test_compose_scheduler_runs_the_review_command_with_the_same_image_and_settings():
    services = compose()["services"]
    scheduler, web = services["scheduler"], services["web"]
    assert scheduler["build"] == web["build"]
    assert scheduler["environment"] == web["environment"]
    assert scheduler.get("restart") in {"unless-stopped", "always"}
    assert "ports" not in scheduler, "the scheduler serves nothing"
    # The image's HEALTHCHECK asks /healthz, which it does not serve.
    assert scheduler["healthcheck"] == {"disable": True}
    command = scheduler["command"]
    script = command if isinstance(command, str) else " ".join(command)
    assert re.search(
        r"manage\.py migrate --check.*while true; do .*review_rules.*sleep \d+", script
    )
