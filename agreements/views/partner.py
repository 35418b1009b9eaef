"""The partner's pages: the agreement and its poll, new rules, history, timeline, print, replies to
a therapist, therapist access, and the archive of a partnership that ended."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agreements import consent, notify, therapy
from agreements.access import (
    Viewer,
    access_of_couple_or_404,
    partner_agreement_or_404,
    partner_etag_or_404,
    partner_or_404,
    partner_required,
    past_agreement_or_404,
    rule_of_partner_or_404,
)
from agreements.forms import CommentForm, TherapistRequestForm, WordingForm, first_error
from agreements.pages import agreement as pages
from agreements.pages import ledger

PAGE = pages.PAGE[Viewer.PARTNER]


@partner_required
@require_GET
def agreement(request: HttpRequest) -> HttpResponse:
    agreement, viewer = partner_agreement_or_404(request)
    response = render(request, PAGE, pages.agreement_page(agreement, viewer))
    response["ETag"] = agreement.etag
    return response


@partner_required
@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """The live region of the page, or 304 when nothing happened since the ETag the page holds.
    An unchanged poll costs the user lookup and one query for the revision."""
    etag = partner_etag_or_404(request)
    notify.mark_present(request.user.pk)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        agreement, viewer = partner_agreement_or_404(request)
        response = render(request, f"{PAGE}#live", pages.live_region(agreement, viewer))
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response


@partner_required
@require_http_methods(["GET", "POST"])
def new_rule(request: HttpRequest) -> HttpResponse:
    viewer = partner_or_404(request)
    # A check-in's "Propose a rule from this" arrives with the wording in the query string.
    form = WordingForm(
        request.POST or None, initial={k: request.GET.get(k, "") for k in ("title", "text")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            rule = consent.propose_rule(
                partner=viewer.seat,
                agreement=pages.agreement_now(viewer.seat.couple_id),
                **form.cleaned_data,
            )
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "Your proposal was added. It comes into force when your partner accepts it too.",
            )
            target = f"{reverse('agreements:agreement')}#rule-{rule.pk}"
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    status = 422 if request.method == "POST" else 200
    return render(request, "agreements/new_rule.html", {"form": form}, status=status)


@partner_required
@require_GET
def history(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    return render(request, "agreements/history.html", ledger.history_page(rule, viewer))


@partner_required
@require_GET
def timeline(request: HttpRequest) -> HttpResponse:
    agreement, viewer = partner_agreement_or_404(request)
    return render(
        request,
        "agreements/timeline.html",
        ledger.timeline_page(agreement, viewer, request.GET.get("page")),
    )


@partner_required
@require_GET
def print_page(request: HttpRequest) -> HttpResponse:
    agreement, viewer = partner_agreement_or_404(request)
    return render(request, "agreements/print.html", pages.print_page(agreement, viewer))


@partner_required
@require_POST
def reply(request: HttpRequest) -> HttpResponse:
    """A partner's reply to a therapist's comments (on a rule, or on the whole agreement)."""
    viewer = partner_or_404(request)
    form = CommentForm(request.POST)
    anchor = "#comments"
    if form.is_valid():
        rule = None
        if form.cleaned_data["rule"]:
            rule, _ = rule_of_partner_or_404(request, form.cleaned_data["rule"])
            anchor = f"#rule-{rule.pk}"
        try:
            therapy.add_comment(
                agreement=pages.agreement_now(viewer.seat.couple_id),
                rule=rule,
                partner=viewer.seat,
                text=form.cleaned_data["text"],
            )
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Your reply was added.")
    else:
        messages.error(request, first_error(form))
    return redirect(reverse("agreements:agreement") + anchor)


@partner_required
@require_GET
def archived(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = past_agreement_or_404(request, agreement_id)
    return render(request, pages.PAGE[viewer.kind], pages.agreement_page(agreement, viewer))


@partner_required
@require_GET
def archived_timeline(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = past_agreement_or_404(request, agreement_id)
    return render(
        request,
        "agreements/timeline.html",
        ledger.timeline_page(agreement, viewer, request.GET.get("page")),
    )


@partner_required
@require_GET
def archived_print(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = past_agreement_or_404(request, agreement_id)
    return render(request, "agreements/print.html", pages.print_page(agreement, viewer))


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def therapist_access(request: HttpRequest) -> HttpResponse:
    """Who has access, since when, last viewed; ask for access, answer a request, end access.
    Re-authentication first: this decides who may read the agreement."""
    agreement, viewer = partner_agreement_or_404(request)
    seat = viewer.seat
    form = TherapistRequestForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "request":
                form = TherapistRequestForm(request.POST)
                if form.is_valid():
                    therapy.request_access(
                        partner=seat, agreement=agreement, email=form.cleaned_data["email"]
                    )
                    messages.success(
                        request,
                        "Your request is recorded. The therapist gets access only if your partner agrees too.",
                    )
                    return redirect("agreements:therapist_access")
            else:
                access_id = access_of_couple_or_404(agreement, request.POST.get("access"))
                if action in ("agree", "refuse"):
                    therapy.respond(partner=seat, access_id=access_id, agree=action == "agree")
                    messages.success(request, "Your answer is recorded.")
                elif action == "end":
                    therapy.end_access(access_id=access_id, partner=seat)
                    messages.success(
                        request, "Access has ended. The therapist can no longer see your agreement."
                    )
                return redirect("agreements:therapist_access")
        except consent.ConsentError as error:
            messages.error(request, error.message)
            return redirect("agreements:therapist_access")
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "agreements/therapist_access.html",
        pages.therapist_access_page(agreement, viewer, form),
        status=status,
    )
