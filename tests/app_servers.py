"""Real app servers for the deployment and fault tests: gunicorn processes on 127.0.0.1 with the
production settings (DJANGO_DEBUG off), sharing the test database, as bench/run.sh runs them.

The servers read and write the very database the test process uses, so tests that use them ask
for `transactional_db`: what the test creates is committed and visible to the servers."""

import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PROXY = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of production sends
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def database_url() -> str:
    """The URL of the test database this process is connected to."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or HOST}:{db['PORT'] or 5432}/{db['NAME']}"


def create_cache_table(name: str = "cache_table") -> None:
    backend = "django.core.cache.backends.db.DatabaseCache"
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": name}}):
        call_command("createcachetable", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(name)}")


def server_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "intimacy.settings",
        "DJANGO_DEBUG": "false",
        # The test process's keys, so that both sides read the same encrypted rows and sessions.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "EMAIL_URL": "memory://",
        "SITE_URL": f"https://{HOST}",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CACHE_URL": "db://cache_table",
    }
    env.update(overrides)
    return env


def collect_static(env: dict[str, str]) -> None:
    """Production serves hashed static names from a manifest: the pages need it to render."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class AppServers:
    """`count` gunicorn servers, `workers` sync worker processes each, with the same
    environment."""

    def __init__(self, count: int = 2, *, workers: int = 1, **overrides: str):
        self.env = server_env(**overrides)
        self.count = count
        self.workers = workers
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.logs: list[Path] = []

    def __enter__(self) -> list[str]:
        collect_static(self.env)
        log_dir = ROOT / "var" / "test-servers"
        log_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(self.count):
            port = free_port()
            log = log_dir / f"gunicorn-{os.getpid()}-{port}.log"
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "intimacy.wsgi",
                        "--bind",
                        f"{HOST}:{port}",
                        "--workers",
                        str(self.workers),
                        "--no-control-socket",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
            self.ports.append(port)
            self.logs.append(log)
        for port, process in zip(self.ports, self.processes, strict=True):
            self._wait(port, process)
        return [f"{HOST}:{port}" for port in self.ports]

    def _wait(self, port: int, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server on {port} exited:\n{self.log_text()}")
            try:
                if call(f"{HOST}:{port}", "GET", "/healthz").status in (200, 503):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server on {port} did not answer:\n{self.log_text()}")

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.unlink(missing_ok=True)


class Response:
    def __init__(self, raw: http.client.HTTPResponse):
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.getheaders()}
        self.set_cookies = {}
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.set_cookies[key.strip()] = rest.split(";", 1)[0]
        self.body = raw.read()
        self.text = self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def call(
    server: str,
    method: str,
    path: str,
    *,
    cookies: dict | None = None,
    form: dict | None = None,
    timeout: float = 60,
    client_ip: str | None = None,
    headers: dict | None = None,
) -> Response:
    hostname, port = server.split(":")
    conn = http.client.HTTPConnection(hostname, int(port), timeout=timeout)
    # One public address for every server, as behind a load balancer.
    headers = {"Host": hostname, **PROXY, **(headers or {})}
    if client_ip:  # as the load balancer appends it (the servers need TRUSTED_PROXY_COUNT=1)
        headers["X-Forwarded-For"] = client_ip
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"https://{hostname}"
    try:
        conn.request(method, path, body=body, headers=headers)
        return Response(conn.getresponse())
    finally:
        conn.close()


class Browser:
    """One person's cookie jar, used against any of the servers (one public address)."""

    def __init__(self, client_ip: str | None = None):
        # A CSRF secret of our own, sent as the cookie and as the form field.
        self.cookies = {"csrftoken": secrets.token_hex(16)}
        self.client_ip = client_ip

    def get(self, server: str, path: str) -> Response:
        return self._keep(call(server, "GET", path, cookies=self.cookies, client_ip=self.client_ip))

    def post(self, server: str, path: str, form: dict | None = None) -> Response:
        form = {"csrfmiddlewaretoken": self.cookies["csrftoken"], **(form or {})}
        return self._keep(
            call(server, "POST", path, cookies=self.cookies, form=form, client_ip=self.client_ip)
        )

    def _keep(self, response: Response) -> Response:
        for key, value in response.set_cookies.items():
            if value in ("", '""'):
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = value
        self.cookies.setdefault("csrftoken", secrets.token_hex(16))
        return response

    def signed_in(self, server: str) -> bool:
        response = self.get(server, "/settings/")
        return response.status == 200
