"""Home, partner linking, the settings page, data export and account deletion."""

import json

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import erasure, linking
from accounts.forms import DeleteAccountForm, InvitationForm, ProfileForm
from accounts.models import Invitation, Partner
from agreements import export, people
from agreements.access import partner_required


def home(request: HttpRequest) -> HttpResponse:
    """Always the next step: invite, wait, the agreement, or the archive."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "accounts/welcome.html")
    if user.is_therapist:
        return redirect("therapist:home")
    seat = user.current_partner_seat()
    past = (
        Partner.objects.filter(user=user, couple__ended_at__isnull=False)
        .select_related("couple__agreement")
        .order_by("-couple__ended_at")
    )
    invitation = Invitation.objects.filter(inviter=user, status=Invitation.Status.OPEN).first()
    if invitation is not None and not invitation.is_usable:
        invitation = None
    context = {
        "seat": seat,
        "invitation": invitation,
        "invitation_url": request.build_absolute_uri(invitation.get_absolute_url())
        if invitation
        else "",
        "past_seats": list(past),
        "form": InvitationForm(),
    }
    if seat is not None:
        context["partner"] = seat.couple.partners.exclude(pk=seat.pk).select_related("user").first()
    return render(request, "accounts/home.html", context)


@partner_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "That email address does not look right. Check it, or leave it empty."
        )
        return redirect("home")
    try:
        linking.create_invitation(inviter=request.user, email=form.cleaned_data["email"])
    except linking.LinkingError as error:
        messages.error(request, error.message)
    else:
        sent = " and emailed it" if form.cleaned_data["email"] else ""
        messages.success(request, f"We made your invitation link{sent}. It works once, for 7 days.")
    return redirect("home")


@partner_required
@require_POST
def cancel_invitation(request: HttpRequest) -> HttpResponse:
    linking.cancel_invitation(inviter=request.user)
    messages.success(request, "Your invitation was cancelled. The link no longer works.")
    return redirect("home")


@never_cache  # the token is in the address: no browser or proxy may keep this page
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Whoever opens the link sees who invited them and chooses. Signed out, they sign up or log
    in first and come back here (allauth keeps ?next=)."""
    found = Invitation.objects.find(token)
    if found is None or not found.is_usable:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"message": linking.INVALID_LINK},
            status=404,
        )
    if not request.user.is_authenticated:
        return render(
            request, "accounts/invitation.html", {"invitation": found, "signed_out": True}
        )
    if request.method == "GET" and found.inviter_id == request.user.pk:
        # Their own link, opened to check it: say so at once, and that it is theirs to send.
        return render(
            request,
            "accounts/invitation.html",
            {"invitation": found, "own": True, "invitation_url": request.build_absolute_uri()},
        )
    if request.method == "GET":
        return render(request, "accounts/invitation.html", {"invitation": found})
    try:
        if request.POST.get("choice") == "accept":
            linking.accept_invitation(token=token, user=request.user)
            messages.success(
                request, "You are linked. Your shared agreement starts with nine proposed rules."
            )
            return redirect("agreements:agreement")
        linking.decline_invitation(token=token, user=request.user)
    except linking.LinkingError as error:
        return render(
            request, "accounts/invitation_invalid.html", {"message": error.message}, status=409
        )
    messages.info(request, "You declined the invitation. Nothing was shared.")
    return redirect("home")


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def end_partnership(request: HttpRequest) -> HttpResponse:
    seat = request.user.current_partner_seat()
    if seat is None:
        messages.info(request, "You are not linked with a partner.")
        return redirect("home")
    if request.method == "POST":
        try:
            linking.end_partnership(user=request.user)
        except linking.LinkingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "The partnership has ended. Your agreement is archived: both of you can still read and print it.",
            )
        return redirect("home")
    return render(request, "accounts/end_partnership.html", {"seat": seat})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        people.save_settings(
            user=request.user,
            display_name=form.cleaned_data["display_name"],
            partner_update_emails=form.cleaned_data["partner_update_emails"],
        )
        messages.success(request, "Your settings were saved.")
        return redirect("accounts:settings")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/settings.html", {"form": form}, status=status)


@login_required
@reauthentication_required
@require_GET
def export_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/export.html")


@login_required
@reauthentication_required
@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    body = json.dumps(export.export_data(request.user), indent=2, ensure_ascii=False)
    return _download(body, "application/json", "json")


@login_required
@reauthentication_required
@require_GET
def export_markdown(request: HttpRequest) -> HttpResponse:
    return _download(export.export_markdown(request.user), "text/markdown", "md")


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
        erasure.delete_account(user=user, current_session_key=request.session.session_key)
        logout(request)
        return render(request, "accounts/account_deleted.html")
    seat = None if user.is_therapist else user.current_partner_seat()
    status = 422 if request.method == "POST" else 200
    return render(
        request, "accounts/delete_account.html", {"form": form, "seat": seat}, status=status
    )
