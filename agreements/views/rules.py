"""Every partner action on one rule card. Each answers htmx with the updated card (and the summary
out of band), and a plain form post with a redirect back to the page, so that everything works
without JavaScript."""

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agreements import consent
from agreements.access import (
    Viewer,
    partner_agreement_or_404,
    partner_required,
    rule_of_partner_or_404,
)
from agreements.forms import NoteForm, ProposalForm, VersionForm, first_error
from agreements.models import Rule
from agreements.pages import agreement as pages

PAGE = pages.PAGE[Viewer.PARTNER]


def _card_response(
    request: HttpRequest,
    rule: Rule,
    viewer: Viewer,
    *,
    status: int = 200,
    error: str = "",
    open_kind: str = "",
    form: Form | None = None,
) -> HttpResponse:
    """htmx: the card (holding the form of `open_kind`, if any) and the summary. Without
    JavaScript: back to the page after a success, or the page again with the message."""
    if not request.htmx:
        if status == 200:
            return redirect(f"{reverse('agreements:agreement')}#rule-{rule.pk}")
        if error:
            messages.error(request, error)
        agreement, viewer = partner_agreement_or_404(request)
        return render(request, PAGE, pages.agreement_page(agreement, viewer), status=status)
    context = pages.card_after_action(
        viewer.seat, rule.pk, viewer, error=error, open_kind=open_kind, form=form
    )
    response = render(request, f"{PAGE}#card-response", context, status=status)
    response["ETag"] = context["etag"]
    return response


def _form_page(
    request: HttpRequest,
    rule: Rule,
    viewer: Viewer,
    kind: str,
    *,
    status: int = 200,
    form: Form | None = None,
) -> HttpResponse:
    """An action's form: inside the card for htmx, on a page of its own without JavaScript."""
    if request.htmx:
        # A form's own errors are shown next to their fields, not again above the card.
        return _card_response(request, rule, viewer, open_kind=kind, form=form, status=status)
    template = "agreements/change.html" if kind == "change" else "agreements/rule_form.html"
    context = pages.rule_form_page(rule, viewer, kind, form)
    return render(request, template, context, status=status)


def _act(request: HttpRequest, rule_id: int, action, form_class=VersionForm) -> HttpResponse:
    """Validates the posted form and calls the consent service with its cleaned data."""
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    form = form_class(request.POST)
    if not form.is_valid():
        return _card_response(request, rule, viewer, status=422, error=first_error(form))
    try:
        action(rule=rule, partner=viewer.seat, **form.cleaned_data)
    except consent.ConsentError as error:
        return _card_response(request, rule, viewer, status=error.status, error=error.message)
    return _card_response(request, rule, viewer)


def _versioned(service):
    """The version form posts `version`; the consent services take it as `version_id`."""

    def call(*, rule, partner, version, note=""):
        return service(rule=rule, partner=partner, version_id=version, note=note)

    return call


@partner_required
@require_POST
def accept(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _act(request, rule_id, _versioned(consent.accept))


def _answer(request: HttpRequest, rule_id: int, kind: str, action) -> HttpResponse:
    """Not yet and Decline: GET opens the note form, POST answers."""
    if request.method == "GET":
        return _form_page(request, *rule_of_partner_or_404(request, rule_id), kind)

    return _act(request, rule_id, _versioned(action))


@partner_required
@require_http_methods(["GET", "POST"])
def not_yet(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _answer(request, rule_id, "not_yet", consent.not_yet)


@partner_required
@require_http_methods(["GET", "POST"])
def decline(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _answer(request, rule_id, "decline", consent.decline)


@partner_required
@require_POST
def answer(request: HttpRequest, rule_id: int) -> HttpResponse:
    """The answer form's own action, for a client that ignores each button's formaction: the
    button's `answer` says which answer; a submission that names none records nothing and says
    so (no form defaults to yes)."""
    chosen = {"accept": accept, "not_yet": not_yet, "decline": decline}.get(
        request.POST.get("answer", "")
    )
    if chosen is not None:
        return chosen(request, rule_id)
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    return _card_response(
        request,
        rule,
        viewer,
        status=422,
        error=_("Nothing was recorded: choose Accept, Not yet or Decline."),
    )


@partner_required
@require_POST
def keep(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Keep it, at the rule's review (sealed until both have kept it)."""

    return _act(request, rule_id, _versioned(consent.keep))


@partner_required
@require_POST
def let_rest(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Let it rest, at the rule's review: at once, as a withdrawal."""

    return _act(request, rule_id, _versioned(consent.let_rest))


@partner_required
@require_GET
def card(request: HttpRequest, rule_id: int) -> HttpResponse:
    """One rule card as it is now (after Cancel on an inline form)."""
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    if not request.htmx:
        return redirect(f"{reverse('agreements:agreement')}#rule-{rule.pk}")
    return _card_response(request, rule, viewer)


@partner_required
@require_POST
def take_back(request: HttpRequest, rule_id: int) -> HttpResponse:
    """The proposer ends their own waiting proposal."""

    return _act(request, rule_id, _versioned(consent.take_back))


@partner_required
@require_POST
def reopen(request: HttpRequest, rule_id: int) -> HttpResponse:
    """The partner who withdrew puts the wording both had agreed on the table again."""
    return _act(request, rule_id, consent.reopen, NoteForm)


@partner_required
@require_POST
def archive(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _act(request, rule_id, consent.archive, NoteForm)


@partner_required
@require_POST
def restore(request: HttpRequest, rule_id: int) -> HttpResponse:
    def call(*, rule, partner, note=""):
        return consent.restore(rule=rule, partner=partner)

    return _act(request, rule_id, call, NoteForm)


@partner_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, rule_id: int) -> HttpResponse:
    """GET asks for the confirmation (the no-JavaScript path); POST withdraws at once."""
    if request.method == "POST":
        return _act(request, rule_id, consent.withdraw, NoteForm)
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    context = pages.rule_form_page(rule, viewer, "")
    context["form"] = NoteForm()
    return render(request, "agreements/withdraw.html", context)


@partner_required
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule, viewer = rule_of_partner_or_404(request, rule_id)
    if request.method == "GET":
        return _form_page(request, rule, viewer, "change")
    form = ProposalForm(request.POST, auto_id=f"%s-{rule.pk}")
    if not form.is_valid():
        return _form_page(request, rule, viewer, "change", status=422, form=form)
    try:
        consent.propose_change(partner=viewer.seat, rule=rule, **form.cleaned_data)
    except consent.ConsentError as error:
        if request.htmx:
            return _card_response(
                request,
                rule,
                viewer,
                status=error.status,
                error=error.message,
                open_kind="change",
                form=form,
            )
        messages.error(request, error.message)
        return _form_page(request, rule, viewer, "change", status=error.status, form=form)
    return _card_response(request, rule, viewer)
