"""The partner's pages: the agreement and its poll, new rules, history, timeline, print, replies to
a therapist, therapist access, and the archive of a partnership that ended."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agreements import consent, notify, therapy, visits
from agreements.access import (
    NotLinked,
    Viewer,
    access_of_couple_or_404,
    client_link_or_404,
    partner_agreement_or_404,
    partner_etag_or_404,
    partner_or_404,
    partner_required,
    past_agreement_or_404,
    request_of_partner_or_404,
    rule_of_partner_or_404,
    suggestion_of_partner_or_404,
)
from agreements.forms import (
    CommentForm,
    NoteForm,
    ProposalForm,
    ScopeForm,
    first_error,
)
from agreements.models import Agreement, TherapistAccess
from agreements.pages import agreement as pages
from agreements.pages import ledger, solo
from agreements.pages import therapy as therapy_pages
from agreements.views import render_print, render_timeline
from intimacy.bidi import fill, isolate

PAGE = pages.PAGE[Viewer.PARTNER]


@partner_required
@require_GET
def agreement(request: HttpRequest) -> HttpResponse:
    try:
        agreement, viewer = partner_agreement_or_404(request)
    except NotLinked:
        # Alone (not linked yet, or again): the nine rules to read, and drafts to write.
        return render(request, "agreements/solo.html", solo.solo_page(request.user))
    previous = visits.record_visit(viewer.seat)
    context = pages.agreement_page(agreement, viewer)
    context.update(news=ledger.since_last_visit(agreement, viewer, previous), previous=previous)
    response = render(request, PAGE, context)
    response["ETag"] = agreement.etag_for(viewer.seat)
    return response


@partner_required
@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """The live region of the page, or 304 when nothing happened since the ETag the page holds
    (no write, and no clock mark passed). An unchanged poll costs the user lookup and one query
    for the revisions."""
    read_at = partner_etag_or_404(request)
    notify.mark_present(request.user.pk)
    etag = Agreement.held_etag(request.headers.get("If-None-Match", ""), *read_at)
    if etag is not None:
        response = HttpResponse(status=304)
    else:
        agreement, viewer = partner_agreement_or_404(request)
        context = pages.live_region(agreement, viewer)
        response = render(request, f"{PAGE}#live", context)
        etag = context["etag"]
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response


@partner_required
@require_http_methods(["GET", "POST"])
def new_rule(request: HttpRequest) -> HttpResponse:
    viewer = partner_or_404(request)
    form = ProposalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rule = consent.propose_rule(
                partner=viewer.seat, agreement=viewer.seat.couple.agreement, **form.cleaned_data
            )
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Your proposal was added. It comes into force when your partner accepts it too."),
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
    return render_timeline(request, *partner_agreement_or_404(request))


@partner_required
@require_GET
def print_page(request: HttpRequest) -> HttpResponse:
    return render_print(request, *partner_agreement_or_404(request))


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
            rule, _rw = rule_of_partner_or_404(request, form.cleaned_data["rule"])
            anchor = f"#rule-{rule.pk}"
        try:
            therapy.add_comment(
                agreement=viewer.seat.couple.agreement,
                rule=rule,
                partner=viewer.seat,
                text=form.cleaned_data["text"],
            )
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your reply was added."))
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
    return render_timeline(request, *past_agreement_or_404(request, agreement_id))


@partner_required
@require_GET
def archived_print(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return render_print(request, *past_agreement_or_404(request, agreement_id))


def _agree_to_the_rules(*, partner, access_id: int):
    return therapy.agree(partner=partner, access_id=access_id, scope=TherapistAccess.Scope.RULES)


ACCESS_ACTIONS = {
    "agree": (
        therapy.agree,
        gettext_lazy("Your answer is recorded: the therapist has access from now on."),
    ),
    "agree_rules": (
        _agree_to_the_rules,
        gettext_lazy("Your answer is recorded: the therapist sees the rules only, from now on."),
    ),
    "refuse": (therapy.decline, gettext_lazy("Your answer is recorded. Nothing was shared.")),
    "decline": (therapy.decline, gettext_lazy("Your answer is recorded. Nothing was shared.")),
    "widen": (
        therapy.widen_scope,
        gettext_lazy("Recorded. Your history is shared only once both of you have agreed to it."),
    ),
    "narrow": (
        therapy.narrow_scope,
        gettext_lazy("Done: the therapist sees the rules only, from now on."),
    ),
    "end": (
        therapy.end_access,
        gettext_lazy("Access has ended. The therapist can no longer see your agreement."),
    ),
}


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def therapist_access(request: HttpRequest) -> HttpResponse:
    """Who has access, since when, at which level, last viewed; narrow, widen or end it, answer a
    request. Re-authentication first: this decides who may read the agreement."""
    agreement, viewer = partner_agreement_or_404(request)
    if request.method == "POST":
        action = ACCESS_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            messages.error(request, _("That is not something this page can do."))
            return redirect("agreements:therapist_access")
        access_id = access_of_couple_or_404(agreement, request.POST.get("access"))
        service, done = action
        try:
            service(partner=viewer.seat, access_id=access_id)
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("agreements:therapist_access")
    return render(
        request,
        "agreements/therapist_access.html",
        therapy_pages.therapist_access_page(agreement, viewer),
    )


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def client_link(request: HttpRequest, token: str) -> HttpResponse:
    """A therapist's client link: who is asking and exactly what would be shared at each level;
    **Ask my partner**. A link that cannot be used is the same 404 as one that never existed."""
    link = client_link_or_404(token)
    agreement, viewer = partner_agreement_or_404(request)
    form = ScopeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            asked = therapy.ask_partner(
                partner=viewer.seat, token=token, scope=form.cleaned_data["scope"]
            )
        except therapy.LinkNotFound:
            raise Http404 from None  # used or cancelled a moment ago
        except consent.ConsentError as error:
            messages.error(request, error.message)
            return redirect("agreements:therapist_access")
        messages.success(
            request,
            _(
                "Your partner is asked. Nothing is shared unless they agree too, and until then the "
                "therapist learns nothing."
            ),
        )
        return redirect("agreements:therapist_request", access_id=asked.pk)
    if request.method == "POST":
        messages.error(request, first_error(form))
    chosen = form.data.get("scope", "") if form.is_bound else ""
    return render(
        request,
        "agreements/client_link.html",
        therapy_pages.client_link_page(link, agreement, viewer, chosen),
        status=422 if request.method == "POST" else 200,
    )


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def therapist_request(request: HttpRequest, access_id: int) -> HttpResponse:
    """The consent page: the same statement the partner who asked read; **Agree** or Decline
    (the one who asked can take it back)."""
    asked, viewer = request_of_partner_or_404(request, access_id)
    if request.method == "POST":
        answer = request.POST.get("action")
        agreeing = answer in ("agree", "agree_rules")
        try:
            if agreeing:
                # "Agree, but only the rules": access starts at the narrower level.
                scope = TherapistAccess.Scope.RULES if answer == "agree_rules" else ""
                therapy.agree(partner=viewer.seat, access_id=asked.pk, scope=scope)
            else:
                therapy.decline(partner=viewer.seat, access_id=asked.pk)
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            if answer == "agree_rules":
                done = fill(
                    _("%(name)s sees the rules only, from now on."),
                    {"name": isolate(asked.therapist_name)},
                )
            elif agreeing:
                done = fill(
                    _("%(name)s has access from now on."), {"name": isolate(asked.therapist_name)}
                )
            else:
                done = _("Your answer is recorded. Nothing was shared.")
            messages.success(request, done)
        return redirect("agreements:therapist_access")
    return render(
        request, "agreements/therapist_request.html", therapy_pages.request_page(asked, viewer)
    )


@partner_required
@require_POST
def adopt_suggestion(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    """The therapist's suggestion becomes this partner's own proposal (their acceptance
    recorded, as for any proposal); the other partner answers it as usual."""
    suggestion_id, viewer = suggestion_of_partner_or_404(request, suggestion_id)
    try:
        adopted = therapy.adopt_suggestion(partner=viewer.seat, suggestion_id=suggestion_id)
    except consent.ConsentError as error:
        messages.error(request, error.message)
        return redirect(reverse("agreements:agreement") + "#suggestions")
    messages.success(
        request,
        _("It is your proposal now. It comes into force when your partner accepts it too."),
    )
    return redirect(f"{reverse('agreements:agreement')}#rule-{adopted.adopted_rule_id}")


@partner_required
@require_POST
def set_aside_suggestion(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    suggestion_id, viewer = suggestion_of_partner_or_404(request, suggestion_id)
    try:
        therapy.set_aside_suggestion(partner=viewer.seat, suggestion_id=suggestion_id)
    except consent.ConsentError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Set aside, for both of you. Nothing changed in your rules."))
    return redirect(reverse("agreements:agreement") + "#suggestions")


def _pause_response(
    request: HttpRequest, viewer: Viewer, *, status: int = 200, error: str = "", told: str = ""
) -> HttpResponse:
    """htmx: the whole live region (every card changed) and the pause control again, blank.
    Without JavaScript: back to the page, where the pause shows at the top of the rules."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif told:
            messages.info(request, told)
        return redirect(reverse("agreements:agreement") + "#live")
    context = pages.after_pause(viewer.seat, viewer, error=error, told=told)
    response = render(request, f"{PAGE}#pause-response", context, status=status)
    response["ETag"] = context["etag"]
    return response


@partner_required
@require_POST
def pause_everything(request: HttpRequest) -> HttpResponse:
    """One tap, an optional note, no confirmation: consent withdrawn from every rule in force."""
    viewer = partner_or_404(request)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _pause_response(request, viewer, status=422, error=first_error(form))
    try:
        rested = consent.pause_everything(partner=viewer.seat, note=form.cleaned_data["note"])
    except consent.ConsentError as error:
        return _pause_response(request, viewer, status=error.status, error=error.message)
    told = ""
    if not rested:
        told = _(
            "Nothing was in force, so no rule changed. Your pause is in the timeline, "
            "with your note if you wrote one."
        )
    return _pause_response(request, viewer, told=told)


@partner_required
@require_POST
def reopen_all(request: HttpRequest) -> HttpResponse:
    """Only the partner who paused: every rule the pause rested is proposed again, as Reopen
    does for one rule."""
    viewer = partner_or_404(request)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _pause_response(request, viewer, status=422, error=first_error(form))
    try:
        consent.reopen_all(partner=viewer.seat, note=form.cleaned_data["note"])
    except consent.ConsentError as error:
        return _pause_response(request, viewer, status=error.status, error=error.message)
    return _pause_response(request, viewer)
