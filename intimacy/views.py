"""The project's own views: the health check, the benchmark floors, and the pages that need every
app (a person's settings, whose name every app's pages show; their data export and account
deletion, through intimacy/privacy.py). Their URL names stay in the accounts namespace
(intimacy/urls.py)."""

import json

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import DeleteAccountForm, ProfileForm
from agreements import people
from agreements.access import past_agreement_or_404
from intimacy import emails, privacy


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        people.save_settings(
            user=request.user,
            display_name=form.cleaned_data["display_name"],
            partner_update_emails=form.cleaned_data["partner_update_emails"],
            time_zone=form.cleaned_data["time_zone"] or None,
            language=form.cleaned_data["language"] if "language" in request.POST else None,
        )
        messages.success(request, _("Your settings were saved."))
        return redirect("accounts:settings")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/settings.html", {"form": form}, status=status)


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


# -- a person's data: export and deletion ----------------------------------------------------------


@login_required
@reauthentication_required
@require_GET
def export_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/export.html")


@login_required
@reauthentication_required
@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    body = json.dumps(privacy.export_data(request.user), indent=2, ensure_ascii=False)
    return _download(body, "application/json", "json")


@login_required
@reauthentication_required
@require_GET
def export_markdown(request: HttpRequest) -> HttpResponse:
    return _download(privacy.export_markdown(request.user), "text/markdown", "md")


def _download(body: str, content_type: str, extension: str) -> HttpResponse:
    """A file to save, never kept by a browser cache or a proxy."""
    filename = f"rules-of-the-road-{timezone.now():%Y-%m-%d}.{extension}"
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        privacy.delete_account(user=user, current_session_key=request.session.session_key)
        logout(request)
        return render(request, "accounts/account_deleted.html")
    seat = None if user.is_therapist else user.current_partner_seat()
    status = 422 if request.method == "POST" else 200
    return render(
        request, "accounts/delete_account.html", {"form": form, "seat": seat}, status=status
    )


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def remove_words(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """From an archive: a former partner takes their own words out of it (intimacy.privacy)."""
    agreement, viewer = past_agreement_or_404(request, agreement_id)
    if request.method == "POST" and viewer.seat.words_removed_at is None:
        privacy.remove_words(user=request.user, agreement_id=agreement.pk)
        messages.success(request, _("Your words were removed from this archive."))
        return redirect("agreements:archived", agreement.pk)
    if request.method == "POST":
        return redirect("agreements:archived", agreement.pk)
    return render(
        request, "accounts/remove_words.html", {"agreement": agreement, "seat": viewer.seat}
    )
