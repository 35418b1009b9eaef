"""Home, partner linking and the settings page. (Data export and account deletion need every
app: they are in intimacy/views.py.)"""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import linking, profile
from accounts.forms import InvitationForm
from accounts.models import Invitation, Partner
from agreements import partnership
from agreements.access import partner_required


def home(request: HttpRequest) -> HttpResponse:
    """Always the next step: invite, wait, the agreement, or the archive."""
    user = request.user
    if not user.is_authenticated:
        return render(
            request, "accounts/welcome.html", {"default_rules": partnership.default_rules()}
        )
    if user.is_therapist:
        return redirect("therapist:home")
    seat = user.current_partner_seat()
    past = (
        Partner.objects.filter(user=user, couple__ended_at__isnull=False)
        .select_related("couple__agreement")
        .order_by("-couple__ended_at")
    )
    standing = Invitation.objects.standing_for(user)
    invitation = standing if standing is not None and standing.is_usable else None
    context = {
        "seat": seat,
        "invitation": invitation,
        # Declined, or expired unanswered: said once, plainly, with the next step.
        "ended_invitation": standing if standing is not None and invitation is None else None,
        "invitation_url": request.build_absolute_uri(invitation.get_absolute_url())
        if invitation
        else "",
        "past_seats": list(past),
        "form": InvitationForm(initial={"email": standing.email if standing is not None else ""}),
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
            request, _("That email address does not look right. Check it, or leave it empty.")
        )
        return redirect("home")
    email = form.cleaned_data["email"]
    if email:
        made = _("We made your invitation link and emailed it. It works once, for 7 days.")
    else:
        made = _("We made your invitation link. It works once, for 7 days.")
    _link(request, lambda: linking.create_invitation(inviter=request.user, email=email), made)
    return redirect("home")


def _link(request: HttpRequest, step, done: str) -> None:
    """A step of linking (`step()`), and what became of it said: its refusal, or `done`."""
    try:
        step()
    except linking.LinkingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)


@partner_required
@require_POST
def email_invitation(request: HttpRequest) -> HttpResponse:
    """The open invitation's link by email again (or to another address), within the limits."""
    form = InvitationForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["email"]:
        messages.error(request, _("Write the email address to send the invitation to."))
        return redirect("home")
    _link(
        request,
        lambda: linking.email_invitation(inviter=request.user, email=form.cleaned_data["email"]),
        _("We emailed your invitation link: the same link as the one shown here."),
    )
    return redirect("home")


@login_required
@require_POST
def dismiss_introduction(request: HttpRequest) -> HttpResponse:
    """Hides the agreement page's explanation of answering, for good. htmx: the explanation
    leaves the page; without JavaScript, back to the agreement."""
    if request.user.is_therapist:
        raise Http404
    profile.dismiss_introduction(user=request.user)
    if request.htmx:
        return HttpResponse("")
    return redirect("agreements:agreement")


@partner_required
@require_POST
def cancel_invitation(request: HttpRequest) -> HttpResponse:
    linking.cancel_invitation(inviter=request.user)
    messages.success(request, _("Your invitation was cancelled. The link no longer works."))
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
        if request.method == "POST" and request.POST.get("choice") == "decline":
            # No account needed to say no.
            try:
                linking.decline_invitation(token=token)
            except linking.LinkingError as error:
                return render(
                    request,
                    "accounts/invitation_invalid.html",
                    {"message": error.message},
                    status=409,
                )
            return render(request, "accounts/invitation_declined.html", {"invitation": found})
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
                request, _("You are linked. Your shared agreement starts with nine proposed rules.")
            )
            return redirect("agreements:agreement")
        linking.decline_invitation(token=token, user=request.user)
    except linking.LinkingError as error:
        return render(
            request, "accounts/invitation_invalid.html", {"message": error.message}, status=409
        )
    messages.info(request, _("You declined the invitation. Nothing was shared."))
    return redirect("home")


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def end_partnership(request: HttpRequest) -> HttpResponse:
    seat = request.user.current_partner_seat()
    if seat is None:
        messages.info(request, _("You are not linked with a partner."))
        return redirect("home")
    if request.method == "POST":
        _link(
            request,
            lambda: linking.end_partnership(user=request.user),
            _(
                "The partnership has ended. Your agreement is archived: both of you can still read and print it."
            ),
        )
        return redirect("home")
    return render(request, "accounts/end_partnership.html", {"seat": seat})
