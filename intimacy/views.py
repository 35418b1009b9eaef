from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from intimacy import emails


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """503 when the database cannot be reached, or when an email has waited for a worker longer
    than EMAIL_QUEUE_STUCK_SECONDS (no `manage.py db_worker` running)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "database unreachable"}, status=503)
    try:
        waited = emails.oldest_waiting_seconds()
    except Exception:
        return JsonResponse({"status": "email queue unreadable"}, status=503)
    if waited is not None and waited > settings.EMAIL_QUEUE_STUCK_SECONDS:
        return JsonResponse(
            {"status": "email queue stuck", "oldest_email_waiting_seconds": waited}, status=503
        )
    return JsonResponse({"status": "ok"})


def floor(request: HttpRequest) -> HttpResponse:
    """The benchmark's floor: the least a view of this stack can do."""
    return HttpResponse(b"ok", content_type="text/plain")


def floor_signed_in(request: HttpRequest) -> HttpResponse:
    """The benchmark's signed-in floor: the least a signed-in page does, reading the session and
    the user. Signed out it is a 403, so that a benchmark whose sessions do not work counts
    errors instead of measuring the anonymous floor twice."""
    if not request.user.is_authenticated:
        return HttpResponse(b"signed out", content_type="text/plain", status=403)
    return HttpResponse(b"ok", content_type="text/plain")
