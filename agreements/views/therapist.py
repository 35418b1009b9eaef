"""The therapist's read-only side: client couples, their agreements, history, timeline, print,
review comments and stepping away. Every view goes through `access.therapist_required` (two-factor
on before any client data) and a gate that finds a live access, else 404."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agreements import therapy
from agreements.access import (
    Viewer,
    link_id_of_therapist_or_404,
    rule_of_agreement_or_404,
    therapist_agreement_or_404,
    therapist_required,
)
from agreements.consent import ConsentError
from agreements.forms import (
    CommentForm,
    ExerciseForm,
    LinkLabelForm,
    SessionNoteForm,
    SuggestionForm,
    first_error,
)
from agreements.models import Rule
from agreements.pages import agreement as pages
from agreements.pages import ledger
from agreements.pages import therapist as therapist_pages
from agreements.views import render_print, render_timeline


@therapist_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "agreements/therapist/home.html", therapist_pages.home_page(request.user)
    )


@therapist_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    """**Invite a client couple**: a new one-time link, shown in this answer only (the token is
    never stored, so no later page could show it again)."""
    link, token = therapy.create_client_link(therapist=request.user)
    url = request.build_absolute_uri(reverse("agreements:client_link", args=[token]))
    context = therapist_pages.home_page(request.user, new_link=link, new_link_url=url)
    response = render(request, "agreements/therapist/home.html", context, status=201)
    response["Cache-Control"] = "no-store"
    return response


@therapist_required
@require_POST
def cancel_link(request: HttpRequest, link_id: int) -> HttpResponse:
    link_id = link_id_of_therapist_or_404(request, link_id)
    try:
        therapy.cancel_client_link(therapist=request.user, link_id=link_id)
    except therapy.LinkNotFound:
        messages.error(request, _("That link is no longer open."))
    else:
        messages.success(request, _("The link is cancelled: it opens nothing any more."))
    return redirect(reverse("therapist:home") + "#invite")


@therapist_required
@require_POST
def label_link(request: HttpRequest, link_id: int) -> HttpResponse:
    """The therapist's private label for one of their client links (and the couple it is for).
    Another therapist's link is a 404, as a missing one."""
    link_id = link_id_of_therapist_or_404(request, link_id)
    form = LinkLabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
    else:
        try:
            therapy.label_client_link(
                therapist=request.user, link_id=link_id, label=form.cleaned_data["label"]
            )
        except therapy.LinkNotFound:
            raise Http404 from None
        except ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Label saved. Only you see it."))
    return redirect(reverse("therapist:home") + f"#link-{link_id}")


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
    agreement, viewer = therapist_agreement_or_404(request, agreement_id, history=True)
    rule = rule_of_agreement_or_404(agreement, rule_id)
    return render(request, "agreements/history.html", ledger.history_page(rule, viewer))


@therapist_required
@require_GET
def timeline(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return render_timeline(
        request, *therapist_agreement_or_404(request, agreement_id, history=True)
    )


@therapist_required
@require_GET
def print_page(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return render_print(request, *therapist_agreement_or_404(request, agreement_id))


@therapist_required
@require_POST
def comment(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """A review comment on one rule (the form's `rule`) or on the whole agreement."""
    agreement, _viewer = therapist_agreement_or_404(request, agreement_id)
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
    messages.success(request, _("Your comment was added. Both partners can read it and reply."))
    return redirect(page + (f"#rule-{rule.pk}" if rule else "#comments"))


@therapist_required
@require_POST
def step_away(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The therapist ends their own access, at once."""
    _agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    therapy.end_access(access_id=viewer.therapist_access.pk, therapist=request.user)
    messages.success(request, _("You stepped away. You no longer have access to that agreement."))
    return redirect("therapist:home")


def _couple_with(request: HttpRequest, agreement, viewer, status: int, **forms) -> HttpResponse:
    """The couple page again, holding a form that needs fixing."""
    context = therapist_pages.couple_page(agreement, viewer, **forms)
    return render(request, pages.PAGE[Viewer.THERAPIST], context, status=status)


@therapist_required
@require_POST
def suggest_rule(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """**Suggest a rule**: the couple sees it apart from their rules; nothing changes until one
    of them adopts it."""
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    return _post_on_couple_page(
        request,
        agreement,
        viewer,
        SuggestionForm(request.POST, prefix="suggest"),
        "suggestion_form",
        lambda data: therapy.suggest_rule(therapist=request.user, agreement=agreement, **data),
        SUGGESTED,
        "#suggestions",
    )


def _post_on_couple_page(
    request: HttpRequest, agreement, viewer, form, form_name: str, write, done: str, anchor: str
) -> HttpResponse:
    """A form the therapist posts from the couple page: `write(cleaned_data)`, then `done` said
    back at `anchor`; invalid or refused, the page again with the form (`form_name`) to fix. An
    access that ended a moment ago is a 404."""
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _couple_with(request, agreement, viewer, 422, **{form_name: form})
    try:
        write(form.cleaned_data)
    except PermissionError:
        raise Http404 from None  # the access ended a moment ago
    except ConsentError as error:
        messages.error(request, error.message)
        return _couple_with(request, agreement, viewer, 409, **{form_name: form})
    messages.success(request, done)
    return redirect(reverse("therapist:couple", args=[agreement.pk]) + anchor)


# Lazy: said in the language of the request that posts it, not of the process that imported this.
SUGGESTED = gettext_lazy(
    "Your suggestion is with the couple. It changes nothing unless one of them adopts it."
)


@therapist_required
@require_http_methods(["GET", "POST"])
def suggest_wording(request: HttpRequest, agreement_id: int, rule_id: int) -> HttpResponse:
    """**Suggest new wording** for one rule, starting from its wording as it stands."""
    agreement, _viewer = therapist_agreement_or_404(request, agreement_id)
    rule = rule_of_agreement_or_404(agreement, rule_id)
    form = SuggestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            therapy.suggest_wording(therapist=request.user, rule=rule, **form.cleaned_data)
        except PermissionError:
            raise Http404 from None
        except ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, SUGGESTED)
            return redirect(reverse("therapist:couple", args=[agreement.pk]) + "#suggestions")
    elif request.method == "POST":
        messages.error(request, first_error(form))
    return render(
        request,
        "agreements/therapist/suggest_wording.html",
        therapist_pages.suggest_wording_page(rule, form if form.is_bound else None),
        status=422 if request.method == "POST" else 200,
    )


@therapist_required
@require_POST
def session_notes(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The therapist's private notes on this couple (only they can read them)."""
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    return _post_on_couple_page(
        request,
        agreement,
        viewer,
        SessionNoteForm(request.POST, prefix="notes"),
        "session_note_form",
        lambda data: therapy.save_session_note(
            therapist=request.user, agreement=agreement, text=data["text"]
        ),
        _("Your notes are saved. Only you can read them."),
        "#session-notes",
    )


@therapist_required
@require_POST
def invite_checkin(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """An exercise between sessions: a check-in for both partners, with the therapist's prompt."""
    agreement, viewer = therapist_agreement_or_404(request, agreement_id)
    rules = list(agreement.rules.exclude(state=Rule.State.ARCHIVED).order_by("position", "pk"))

    def invite(data: dict) -> None:
        rule = rule_of_agreement_or_404(agreement, data["rule"]) if data["rule"] else None
        therapy.invite_to_checkin(
            therapist=request.user, agreement=agreement, prompt=data["prompt"], rule=rule
        )

    return _post_on_couple_page(
        request,
        agreement,
        viewer,
        ExerciseForm(request.POST, prefix="exercise", rules=rules),
        "exercise_form",
        invite,
        _("Both partners now see a check-in ready to start."),
        "#exercises",
    )
