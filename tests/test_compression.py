"""Compression without BREACH. Every answer of the app is gzip-compressed for a browser that
accepts it, by Django's GZipMiddleware, which since Django 4.2 adds up to 100 random bytes to
each compressed answer: the size of a page that carries a secret (the CSRF token, an invitation
link) changes from request to request whatever the page holds, so it tells an attacker who
injects text nothing (BREACH). Static assets are compressed ahead of time by whitenoise, and
/static/ serves assets and nothing else."""

import gzip
import re
from pathlib import Path

import pytest
from django.urls import reverse

from accounts import linking
from intimacy.middleware import ASSET_SUFFIXES
from tests.app_servers import AppServers, call, create_cache_table
from tests.security_production import production_values

ROOT = Path(__file__).resolve().parent.parent
GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
MASKED_TOKEN = re.compile(r"[A-Za-z0-9]{64}")  # a CSRF token, masked afresh for every answer
SAMPLES = 12


def compressed(client, path: str) -> tuple[bytes, bytes]:
    """The compressed body of one answer, and what it decompresses to."""
    response = client.get(path, **GZIP)
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    return response.content, gzip.decompress(response.content)


def test_a_page_is_compressed_for_a_browser_that_accepts_it_and_plain_for_one_that_does_not(
    couple, alice_client
):
    path = reverse("agreements:agreement")
    body, page = compressed(alice_client, path)
    plain = alice_client.get(path)
    assert not plain.has_header("Content-Encoding")
    assert b"csrfmiddlewaretoken" in page or b'"X-CSRFToken"' in page
    assert len(body) < len(plain.content) / 3
    assert MASKED_TOKEN.sub("", page.decode()) == MASKED_TOKEN.sub("", plain.content.decode())


@pytest.mark.parametrize("page", ["agreement", "home with an open invitation link", "log-in"])
def test_the_compressed_size_of_the_same_page_differs_from_request_to_request(
    page, couple, alice_client, mallory, client
):
    if page == "agreement":
        browser, path = alice_client, reverse("agreements:agreement")
    elif page == "home with an open invitation link":
        invitation = linking.create_invitation(inviter=mallory)
        browser, path = client, "/"
        browser.force_login(mallory)
        assert invitation.token in browser.get(path).content.decode()
    else:
        browser, path = client, reverse("account_login")
    answers = [compressed(browser, path) for _ in range(SAMPLES)]
    sizes = {len(body) for body, _ in answers}
    # The same page each time (but for the CSRF token, masked afresh)...
    assert len({MASKED_TOKEN.sub("", page.decode()) for _, page in answers}) == 1
    # ...and sizes that tell nothing about it.
    assert len(sizes) >= SAMPLES // 2, sizes
    assert max(sizes) - min(sizes) >= 20, sizes


def test_an_open_page_still_gets_304_for_the_etag_of_its_compressed_answer(couple, alice_client):
    page = alice_client.get(reverse("agreements:agreement"), **GZIP)
    etag = page["ETag"]
    assert etag.startswith('W/"')  # GZipMiddleware weakens it: the bytes are not the page's own
    poll = alice_client.get(
        reverse("agreements:poll"), headers={"If-None-Match": etag, "HX-Request": "true"}, **GZIP
    )
    assert poll.status_code == 304


def test_production_compresses_what_the_app_answers_and_leaves_static_files_to_whitenoise():
    middleware = production_values("settings.MIDDLEWARE")
    static = middleware.index("intimacy.middleware.StaticAssets")
    assert middleware[static + 1] == "django.middleware.gzip.GZipMiddleware"
    assert "whitenoise.middleware.WhiteNoiseMiddleware" not in middleware


def test_static_holds_assets_only():
    """Anything else (a note on where a vendored file came from, a licence) goes elsewhere:
    docs/vendored.md."""
    others = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "static").rglob("*")
        if path.is_file() and not path.name.lower().endswith(ASSET_SUFFIXES)
    ]
    assert others == []


@pytest.fixture(scope="module")
def production_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        create_cache_table()
    with AppServers(1) as (server,):
        yield server


@pytest.mark.django_db(transaction=True)
def test_a_production_server_compresses_html_and_serves_static_assets_only(production_server):
    gzip_header = {"Accept-Encoding": "gzip"}
    page = call(production_server, "GET", "/accounts/login/", headers=gzip_header)
    assert page.status == 200
    assert page.headers["content-encoding"] == "gzip"
    assert b"<form" in gzip.decompress(page.body)

    style = call(production_server, "GET", "/static/css/app.css", headers=gzip_header)
    assert style.status == 200
    assert style.headers["content-encoding"] == "gzip"  # whitenoise's own .gz, made at build

    for not_an_asset in (
        "/static/vendor/VERSIONS",
        "/static/staticfiles.json",
        "/static/admin/js/vendor/jquery/LICENSE.txt",
        "/static/admin/img/README.md",
    ):
        assert call(production_server, "GET", not_an_asset).status == 404, not_an_asset
