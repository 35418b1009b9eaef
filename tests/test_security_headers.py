"""Security headers on every page kind, with the production settings, scored the way Mozilla's
HTTP Observatory scores a site: grade A+ (100 or more) required. And `check --deploy` passes."""

import json
import re
from functools import cache

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from tests.security_production import ROOT, production_values, run
from tests.security_world import build_world, every_page

# The settings that shape headers and cookies, read from the production configuration itself.
HEADER_SETTINGS = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CSP",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "MIDDLEWARE",
]


@cache
def production_settings() -> dict:
    values = production_values(f"{{n: getattr(settings, n) for n in {HEADER_SETTINGS!r}}}")
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


@pytest.fixture
def production(settings):
    """This process's settings, with every header and cookie setting as production has it."""
    values = production_settings()
    assert values["DEBUG"] is False
    assert values["MIDDLEWARE"] == django_settings.MIDDLEWARE
    # The redirect to https is tested on its own: the world is built over plain http.
    for name, value in values.items():
        if name not in ("MIDDLEWARE", "SECURE_SSL_REDIRECT"):
            setattr(settings, name, value)
    return settings


def test_check_deploy_passes_with_production_settings():
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


# -- an HTTP Observatory-like scorer --------------------------------------------------------------
# Modifiers from https://github.com/mozilla/http-observatory/blob/main/httpobs/docs/scoring.md
# (start at 100; bonuses count only when the score without them is 90 or more; A+ is 100+).

PRIVATE_REFERRER = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
UNSAFE_REFERRER = {"origin", "origin-when-cross-origin", "unsafe-url"}
BROAD_SOURCES = {"*", "http:", "https:", "data:", "blob:", "filesystem:"}


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for directive in header.split(";"):
        parts = directive.split()
        if parts:
            policy.setdefault(parts[0].lower(), parts[1:])
    return policy


def _csp_modifier(response) -> tuple[int, str]:
    header = response.headers.get("Content-Security-Policy")
    if not header:
        return -25, "csp-not-implemented"
    policy = parse_csp(header)
    default = policy.get("default-src")
    script = policy.get("script-src", default)
    obj = policy.get("object-src", default)
    style = policy.get("style-src", default)
    if script is None or obj is None:
        return -20, "csp-implemented-with-unsafe-inline (script-src or object-src unrestricted)"
    if "'unsafe-inline'" in script or BROAD_SOURCES & set(script) or BROAD_SOURCES & set(obj):
        return -20, "csp-implemented-with-unsafe-inline"
    if any(src.startswith("http:") for sources in policy.values() for src in sources):
        return -20, "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script:
        return -10, "csp-implemented-with-unsafe-eval"
    if style is None or "'unsafe-inline'" in style or BROAD_SOURCES & set(style):
        return 0, "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == ["'none'"]:
        return 10, "csp-implemented-with-no-unsafe-default-src-none"
    return 5, "csp-implemented-with-no-unsafe"


def _cookie_modifier(response) -> tuple[int, str]:
    # A cookie being deleted (Max-Age=0) carries nothing: browsers drop it at once.
    cookies = [c for c in response.cookies.values() if c["max-age"] != 0]
    if not cookies:
        return 0, "cookies-not-found"
    session_names = {django_settings.SESSION_COOKIE_NAME}
    for cookie in cookies:
        if not cookie["secure"]:
            if cookie.key in session_names:
                return -40, f"cookies-session-without-secure-flag ({cookie.key})"
            return -20, f"cookies-without-secure-flag ({cookie.key})"
        if cookie.key in session_names and not cookie["httponly"]:
            return -30, f"cookies-session-without-httponly-flag ({cookie.key})"
        samesite = cookie["samesite"]
        if samesite and samesite.lower() not in {"strict", "lax"}:
            return -20, f"cookies-samesite-flag-invalid ({cookie.key})"
        if cookie.key == django_settings.CSRF_COOKIE_NAME and not samesite:
            return -20, "cookies-anticsrf-without-samesite-flag"
    if all(c["samesite"] for c in cookies):
        return 5, "cookies-secure-with-httponly-sessions-and-samesite"
    return 0, "cookies-secure-with-httponly-sessions"


def _hsts_modifier(response, https: bool) -> tuple[int, str]:
    header = response.headers.get("Strict-Transport-Security")
    if not https:
        return -20, "hsts-not-implemented-no-https"
    if not header:
        return -20, "hsts-not-implemented"
    match = re.search(r"max-age=(\d+)", header, re.I)
    if not match:
        return -20, "hsts-header-invalid"
    if int(match.group(1)) < 15768000:
        return -10, "hsts-implemented-max-age-less-than-six-months"
    return 0, "hsts-implemented-max-age-at-least-six-months"  # preloading is not ours to claim


def _referrer_modifier(response) -> tuple[int, str]:
    header = response.headers.get("Referrer-Policy")
    if not header:
        return 0, "referrer-policy-not-implemented"
    value = header.split(",")[-1].strip().lower()
    if value in PRIVATE_REFERRER:
        return 5, "referrer-policy-private"
    if value == "no-referrer-when-downgrade":
        return 0, "referrer-policy-no-referrer-when-downgrade"
    if value in UNSAFE_REFERRER:
        return -5, "referrer-policy-unsafe"
    return -5, "referrer-policy-header-invalid"


def _xfo_modifier(response) -> tuple[int, str]:
    policy = parse_csp(response.headers.get("Content-Security-Policy", ""))
    if "frame-ancestors" in policy:
        return 5, "x-frame-options-implemented-via-csp"
    xfo = response.headers.get("X-Frame-Options", "").upper()
    if xfo in {"DENY", "SAMEORIGIN"}:
        return 0, "x-frame-options-sameorigin-or-deny"
    return -20, "x-frame-options-not-implemented"


def _sri_modifier(response) -> tuple[int, str]:
    if not response.get("Content-Type", "").startswith("text/html"):
        return 0, "sri-not-implemented-response-not-html"
    body = response.content.decode(errors="replace")
    sources = re.findall(r"<script[^>]*\ssrc=[\"']([^\"']+)", body, re.I)
    external = [s for s in sources if re.match(r"^(https?:)?//", s)]
    if not sources:
        return 0, "sri-not-implemented-but-no-scripts-loaded"
    if external:
        return -5, f"sri-not-implemented-but-external-scripts-loaded-securely {external}"
    return 0, "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"


def observatory_score(response, *, https: bool = True, redirects_to_https: bool = True):
    """The score and the modifiers that made it."""
    modifiers = [
        _csp_modifier(response),
        _cookie_modifier(response),
        _hsts_modifier(response, https),
        _referrer_modifier(response),
        _xfo_modifier(response),
        _sri_modifier(response),
    ]
    if response.headers.get("Access-Control-Allow-Origin", "").strip() == "*":
        modifiers.append((-50, "cross-origin-resource-sharing-implemented-with-universal-access"))
    if response.headers.get("X-Content-Type-Options", "").lower() != "nosniff":
        modifiers.append((-5, "x-content-type-options-not-implemented"))
    if not redirects_to_https:
        modifiers.append((-20, "redirection-missing"))
    # X-XSS-Protection is "not needed due to CSP" when the CSP passes; otherwise -10.
    if modifiers[0][0] < 5 and "X-XSS-Protection" not in response.headers:
        modifiers.append((-10, "x-xss-protection-not-implemented"))
    penalties = 100 + sum(m for m, _ in modifiers if m < 0)
    bonuses = sum(m for m, _ in modifiers if m > 0)
    score = penalties + (bonuses if penalties >= 90 else 0)
    return max(score, 0), modifiers


def test_the_scorer_grades_a_bare_response_f_and_a_weak_policy_below_a_plus():
    from django.http import HttpResponse

    bare = HttpResponse("<p>hi</p>")
    assert observatory_score(bare, https=False, redirects_to_https=False)[0] < 25
    weak = HttpResponse("<p>hi</p>")
    weak.headers["Content-Security-Policy"] = "default-src 'self' 'unsafe-inline'"
    weak.headers["Strict-Transport-Security"] = "max-age=31536000"
    weak.headers["X-Content-Type-Options"] = "nosniff"
    weak.headers["X-Frame-Options"] = "DENY"
    assert observatory_score(weak)[0] < 100


# -- the headers themselves ---------------------------------------------------------------------


def assert_strict_csp(label: str, response) -> None:
    header = response.headers.get("Content-Security-Policy", "")
    policy = parse_csp(header)
    assert policy.get("default-src") == ["'self'"], (label, header)
    assert policy.get("frame-ancestors") == ["'none'"], (label, header)
    assert policy.get("form-action") == ["'self'"], (label, header)
    assert policy.get("base-uri") == ["'none'"], (label, header)
    assert policy.get("object-src") == ["'none'"], (label, header)
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, (label, header)
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy.get(directive, ["'self'"]) == ["'self'"], (label, directive, header)


def assert_security_headers(label: str, response) -> None:
    headers = response.headers
    assert_strict_csp(label, response)
    hsts = headers.get("Strict-Transport-Security", "")
    assert (
        re.search(r"max-age=(\d+)", hsts)
        and int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000
    ), (label, hsts)
    assert "includeSubDomains" in hsts, (label, hsts)
    assert headers.get("X-Content-Type-Options") == "nosniff", label
    # No referrer ever leaves for another site. (Not "no-referrer": with it, browsers send
    # "Origin: null" on the site's own form posts, which the CSRF check must refuse.)
    assert headers.get("Referrer-Policy") in {"no-referrer", "same-origin"}, label
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", label
    assert "Server" not in headers or "Django" not in headers["Server"], label


def assert_permissions_policy(label: str, response) -> None:
    policy = response.headers.get("Permissions-Policy", "")
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in policy, (label, policy)


def test_every_page_kind_sends_the_security_headers_and_grades_a_plus(db, production):
    world = build_world()
    seen = 0
    for label, response in every_page(world, secure=True):
        seen += 1
        assert_security_headers(label, response)
        score, modifiers = observatory_score(response)
        assert score >= 100, (label, score, modifiers)
        if response.get("Content-Type", "").startswith("text/html"):
            assert_permissions_policy(label, response)
    assert seen > 300


def test_signed_in_pages_are_never_stored_by_a_browser_or_proxy(db, production):
    world = build_world()
    signed_in = [role for role in world.clients if role != "anonymous"]
    for label, response in every_page(world, secure=True, roles=signed_in):
        if "signed out" in label:
            continue
        assert "no-store" in response.headers.get("Cache-Control", ""), label


def test_the_log_in_page_sets_only_secure_httponly_samesite_cookies(db, production):
    response = Client().get(reverse("account_login"), secure=True)
    assert response.cookies, "the log-in form should set its CSRF cookie"
    score, modifiers = observatory_score(response)
    assert (5, "cookies-secure-with-httponly-sessions-and-samesite") in modifiers, modifiers
    assert score >= 100


def test_plain_http_is_redirected_to_https_on_the_same_host(db, production):
    assert production_settings()["SECURE_SSL_REDIRECT"] is True
    production.SECURE_SSL_REDIRECT = True
    response = Client().get("/agreement/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/agreement/"
    score, modifiers = observatory_score(Client().get("/", secure=True), redirects_to_https=True)
    assert score >= 100, modifiers


def test_the_health_check_answers_plain_http_for_the_load_balancer(db, production):
    production.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz")
    assert response.status_code == 200


def test_static_files_get_the_headers_too(db, production, settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    for path in ("/static/js/app.js", "/static/css/app.css", "/static/img/favicon.svg"):
        response = Client().get(path, secure=True)
        assert response.status_code == 200, path
        assert_security_headers(path, response)


# -- htmx, configured for privacy and for the CSP -------------------------------------------------


def htmx_config(body: str) -> dict:
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'", body)
    assert match, "base.html should configure htmx with a meta tag"
    return json.loads(match.group(1))


def test_htmx_keeps_no_history_cache_never_evaluates_and_talks_to_this_site_only(db):
    body = Client().get(reverse("account_login")).content.decode()
    config = htmx_config(body)
    assert config["historyCacheSize"] == 0  # no copy of a page in localStorage
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
    # htmx's own indicator styles are an inline <style>: the CSP would refuse it.
    assert config["includeIndicatorStyles"] is False
    css = (ROOT / "static/css/app.css").read_text()
    assert ".htmx-indicator" in css and ".htmx-request" in css


def test_the_vendored_htmx_is_version_2_0():
    source = (ROOT / "static/vendor/htmx.min.js").read_text()
    assert re.search(r"version:\s*\"2\.0\.\d+\"", source)
