"""Before a partner joins: a person reads the nine default rules on their own, and drafts
changes and new rules that become their proposals once the couple forms (agreements.drafts)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from agreements import drafts
from agreements.access import alone_or_none, draft_of_user_or_404, partner_required
from agreements.forms import WordingForm, first_error
from agreements.pages import solo

FORM = "agreements/draft_form.html"
LINKED = gettext_lazy(
    "You are linked with your partner now: propose changes on your shared agreement."
)


def _back(anchor: str = "") -> HttpResponse:
    return redirect(reverse("agreements:agreement") + anchor)


def _linked() -> HttpResponse:
    return _back()


def _write(request: HttpRequest, context: dict, **target) -> HttpResponse:
    form = context["form"]
    if request.method == "POST":
        if form.is_valid():
            try:
                draft = drafts.save_draft(user=request.user, **target, **form.cleaned_data)
            except drafts.DraftError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _(
                        "Kept as your draft. Nobody else sees it; when your partner joins, it "
                        "becomes your proposal and you answer it together."
                    ),
                )
                return _back(f"#draft-{draft.pk}")
        else:
            messages.error(request, first_error(form))
    status = 422 if request.method == "POST" else 200
    return render(request, FORM, context, status=status)


@partner_required
@require_http_methods(["GET", "POST"])
def change_default(request: HttpRequest, position: int) -> HttpResponse:
    """A different wording for one of the nine default rules, kept as a draft."""
    if alone_or_none(request) is None:
        messages.info(request, LINKED)
        return _linked()
    default = solo.default_rule(position)
    if default is None:
        raise Http404
    draft = request.user.rule_drafts.filter(default_position=position).first()
    initial = {
        "title": draft.title if draft else default.title,
        "text": draft.text if draft else default.text,
        "note": draft.note if draft else "",
    }
    form = WordingForm(request.POST or None, initial=initial)
    context = solo.draft_form_page(form, default=default, draft=draft)
    return _write(request, context, default_position=position)


@partner_required
@require_http_methods(["GET", "POST"])
def new_draft(request: HttpRequest) -> HttpResponse:
    """A new rule, kept as a draft."""
    if alone_or_none(request) is None:
        return redirect("agreements:new_rule")
    form = WordingForm(request.POST or None)
    return _write(request, solo.draft_form_page(form))


@partner_required
@require_http_methods(["GET", "POST"])
def edit_draft(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = draft_of_user_or_404(request, draft_id)
    if draft.default_position is not None:
        return redirect("agreements:change_default", position=draft.default_position)
    form = WordingForm(
        request.POST or None,
        initial={"title": draft.title, "text": draft.text, "note": draft.note},
    )
    return _write(request, solo.draft_form_page(form, draft=draft), draft_id=draft.pk)


@partner_required
@require_POST
def remove_draft(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = draft_of_user_or_404(request, draft_id)
    drafts.remove_draft(user=request.user, draft_id=draft.pk)
    messages.success(request, _("Your draft was removed."))
    return _back("#drafts")
