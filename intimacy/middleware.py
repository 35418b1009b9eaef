"""Project-wide middleware: request size, session lifetime and privacy headers."""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from intimacy.logfilters import holds_token

Handler = Callable[[HttpRequest], HttpResponse]

audit = logging.getLogger("intimacy.audit")
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# (No "interest-cohort": browsers dropped FLoC, and Chromium logs the unknown feature as an error.)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# How often the idle timer is written back, so that a busy page does not write its session
# on every request.
ACTIVITY_RESOLUTION = 60


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
