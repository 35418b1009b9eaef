"""The therapist's read-only side: client couples, their agreements, history, timeline, print,
review comments and stepping away. Every view goes through `access.therapist_required` (two-factor
on before any client data) and a gate that finds a live access, else 404."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agreements import therapy
from agreements.access import (
    Viewer,
    rule_of_agreement_or_404,
    therapist_agreement_or_404,
    therapist_required,
)
from agreements.forms import CommentForm, first_error
from agreements.pages import agreement as pages
from agreements.pages import ledger
from agreements.pages import therapist as therapist_pages


@therapist_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "agreements/therapist/home.html", therapist_pages.home_page(request.user)
    )


@therapist_required
@require_GET
def couple(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The agreement, read-only, with the review comment forms. Opening it counts as a visit."""
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    previous = therapy.record_view(
        viewer.therapist_access, prefetch="prefetch" in request.headers.get("Sec-Purpose", "")
    )
    context = therapist_pages.couple_page(agreement, viewer, previous_visit=previous)
    return render(request, pages.PAGE[Viewer.THERAPIST], context)


@therapist_required
@require_GET
def history(request: HttpRequest, agreement_id: int, rule_id: int) -> HttpResponse:
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    rule = rule_of_agreement_or_404(agreement, rule_id)
    return render(request, "agreements/history.html", ledger.history_page(rule, viewer))


@therapist_required
@require_GET
def timeline(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    return render(
        request,
        "agreements/timeline.html",
        ledger.timeline_page(agreement, viewer, request.GET.get("page")),
    )


@therapist_required
@require_GET
def print_page(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    return render(request, "agreements/print.html", pages.print_page(agreement, viewer))


@therapist_required
@require_POST
def comment(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """A review comment on one rule (the form's `rule`) or on the whole agreement."""
    agreement, _ = therapist_agreement_or_404(request, agreement_id)
    page = reverse("therapist:couple", args=[agreement.pk])
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect(page + "#comments")
    rule = None
    if form.cleaned_data["rule"]:
        rule = rule_of_agreement_or_404(agreement, form.cleaned_data["rule"])
    try:
        therapy.add_comment(
            agreement=agreement, rule=rule, therapist=request.user, text=form.cleaned_data["text"]
        )
    except PermissionError:
        raise Http404 from None  # the access ended a moment ago
    messages.success(request, "Your comment was added. Both partners can read it and reply.")
    return redirect(page + (f"#rule-{rule.pk}" if rule else "#comments"))


@therapist_required
@require_POST
def step_away(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The therapist ends their own access, at once."""
    _, viewer = therapist_agreement_or_404(request, agreement_id)
    therapy.end_access(access_id=viewer.therapist_access.pk, therapist=request.user)
    messages.success(request, "You stepped away. You no longer have access to that agreement.")
    return redirect("therapist:home")
