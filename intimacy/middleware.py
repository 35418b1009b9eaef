"""Project-wide middleware: request size, session lifetime, privacy headers, and htmx answers
that leave the page when it can no longer be answered in place."""

import logging
import time
import zoneinfo
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.responders import MissingFileError

from intimacy.logfilters import holds_token
from intimacy.validators import is_time_zone

Handler = Callable[[HttpRequest], HttpResponse]

audit = logging.getLogger("intimacy.audit")
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# (No "interest-cohort": browsers dropped FLoC, and Chromium logs the unknown feature as an error.)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# How often the idle timer is written back, so that a busy page does not write its session
# on every request.
ACTIVITY_RESOLUTION = 60


# What /static/ serves: styles, scripts, images and fonts. Not the manifest collectstatic writes
# (staticfiles.json), nor the READMEs, licences and notes that come beside vendored files.
ASSET_SUFFIXES = (".css", ".js", ".svg", ".png", ".gif", ".jpg", ".webp", ".ico", ".woff2")


class StaticAssets(WhiteNoiseMiddleware):
    """WhiteNoise, serving the assets under STATIC_ROOT (and, when debugging, under static/)
    and nothing else: any other file answers 404, as a missing one does."""

    def add_file_to_dictionary(self, url, path, stat_cache=None):
        if url.lower().endswith(ASSET_SUFFIXES):
            super().add_file_to_dictionary(url, path, stat_cache=stat_cache)

    def find_file_at_path(self, path, url):
        if not url.lower().endswith(ASSET_SUFFIXES):
            raise MissingFileError(path)
        return super().find_file_at_path(path, url)


def limit_request_size(get_response: Handler) -> Handler:
    def middleware(request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Answered before the session is read: the page gets the privacy headers here.
            response = render(request, "errors/413.html", status=413)
            response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
            response.headers["Cache-Control"] = "no-store"
            return response
        return get_response(request)

    return middleware


def session_lifetime(get_response: Handler) -> Handler:
    """Ends a session after SESSION_IDLE_TIMEOUT seconds without a request, and at most
    SESSION_COOKIE_AGE seconds after sign-in, whatever happens in between."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            started = request.session.setdefault("started_at", now)
            seen = request.session.get("seen_at", now)
            if (
                now - seen > settings.SESSION_IDLE_TIMEOUT
                or now - started > settings.SESSION_COOKIE_AGE
            ):
                logout(request)
            elif now - seen >= ACTIVITY_RESOLUTION or "seen_at" not in request.session:
                request.session["seen_at"] = now
        return get_response(request)

    return middleware


def time_zone(get_response: Handler) -> Handler:
    """Every date and time of the request in the signed-in person's own zone (User.time_zone):
    Django's templates show aware datetimes in the active zone, and timezone.localdate() and
    localtime() give the person's own days. Signed out: the site's zone (UTC)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = getattr(user, "time_zone", "") if user is not None else ""
        if zone and is_time_zone(zone):
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware


def log_access_denials(get_response: Handler) -> Handler:
    """Logs every 403 and every 404 answered to a signed-in person, by view name and account id
    only: never the path (an invitation link carries its token), the query string or a body."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if response.status_code in (403, 404):
            user = getattr(request, "user", None)
            signed_in = user is not None and user.is_authenticated
            if signed_in or response.status_code == 403:
                match = getattr(request, "resolver_match", None)
                audit.warning(
                    "access denied status=%s user=%s view=%s method=%s",
                    response.status_code,
                    user.pk if signed_in else "anonymous",
                    match.view_name if match else "-",
                    request.method if request.method in KNOWN_METHODS else "other",
                )
        return response

    return middleware


def privacy_headers(get_response: Handler) -> Handler:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
        if signed_in and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        if holds_token(request.path):
            # The link itself is the secret: no browser or proxy keeps a page reached by it.
            response.headers["Cache-Control"] = "no-store"
        if getattr(response, "_csp_config", None) == {}:
            # Django's debug pages opt out of the policy (they style themselves inline); every
            # page of ours, error pages included, is sent with it.
            response._csp_config = settings.SECURE_CSP
        if getattr(request, "clear_site_data", False):
            response.headers["Clear-Site-Data"] = '"cache", "storage"'
            response.headers["Cache-Control"] = "no-store"
        return response

    return middleware


def htmx_full_page_answers(get_response: Handler) -> Handler:
    """An htmx request that cannot be answered normally leaves the page for a full one, told on
    the final answer the browser sees: a redirect (to log in, say) would be followed by the
    browser unseen and its page pasted into a card. So a redirect becomes 200 with HX-Redirect
    (the log-in page coming back to the page the person was on, not to the fragment's URL), and
    a 403 or 404 (a rule gone, a session ended) reloads the page with HX-Refresh."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.headers.get("HX-Request") != "true" or _speaks_htmx(response):
            return response
        if 300 <= response.status_code < 400 and response.has_header("Location"):
            answer = HttpResponse(status=200)
            for name, value in response.items():
                if name.lower() not in ("location", "content-length", "content-type"):
                    answer[name] = value
            answer.cookies = response.cookies
            answer["HX-Redirect"] = _back_to_the_page(request, response["Location"])
            return answer
        if response.status_code in (403, 404):
            response["HX-Refresh"] = "true"
        return response

    return middleware


def _speaks_htmx(response: HttpResponse) -> bool:
    return any(name.lower().startswith("hx-") for name in response.headers)


def _back_to_the_page(request: HttpRequest, location: str) -> str:
    """`location`, with a ?next= that named the fragment's URL pointing at the page instead."""
    target = urlsplit(location)
    query = parse_qsl(target.query, keep_blank_values=True)
    if not any(key == "next" for key, _ in query):
        return location
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    page = "/"
    if current.path.startswith("/") and current.netloc in ("", request.get_host()):
        page = current.path + (f"?{current.query}" if current.query else "")
    query = [(key, page if key == "next" else value) for key, value in query]
    return urlunsplit(target._replace(query=urlencode(query)))
