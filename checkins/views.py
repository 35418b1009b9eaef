"""Check-in screens. Thin: parse, ask the gate, call a service or a page builder, render. An htmx
request gets the check-in element back (the page's own partial); a plain post a redirect."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agreements import access
from agreements.access import partner_required, therapist_required
from agreements.forms import WordingForm, first_error
from agreements.models import Rule
from checkins import pages, services
from checkins.forms import AnswerForm, ReplyForm, ShareForm, StartForm

LIST = "checkins/list.html"
PAGE = "checkins/checkin.html"
THERAPIST_LIST = "checkins/therapist_list.html"


def _rule_choices(agreement) -> list[tuple[int, str]]:
    rules = (
        agreement.rules.exclude(state=Rule.State.ARCHIVED)
        .select_related("current_version", "pending_version", "agreed_version", "latest_version")
        .order_by("position", "pk")
    )
    return [(r.pk, f"{r.number}. {r.wording.title or 'Rule'}") for r in rules]


def _partner_checkin(request: HttpRequest, checkin_id: int):
    found, viewer = access.checkin_of_partner_or_404(request, checkin_id)
    return found, viewer.seat, viewer.may_act


# -- the list --------------------------------------------------------------------------------------


@partner_required
@require_GET
def checkin_list(request: HttpRequest) -> HttpResponse:
    agreement, viewer = access.partner_agreement_or_404(request)
    return _list(request, viewer.seat, StartForm(rule_choices=_rule_choices(agreement)))


def _list(request: HttpRequest, seat, form, *, status: int = 200) -> HttpResponse:
    page = pages.list_page(seat.couple_id, seat, can_write=True)
    context = {
        "page": page,
        "form": form,
        "archived": None,
        "exercises": pages.exercises_ready(seat.couple_id),
    }
    return render(request, LIST, context, status=status)


@partner_required
@require_POST
def start_exercise(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """A check-in a therapist invited the couple to, started with the therapist's prompt."""
    invitation_id, viewer = access.exercise_of_partner_or_404(request, invitation_id)
    try:
        checkin, created = services.start_from_invitation(
            partner=viewer.seat, invitation_id=invitation_id
        )
    except services.CheckInError as error:
        messages.error(request, error.message)
        return redirect("checkins:list")
    if not created:
        messages.info(request, "A check-in is already open, so here it is.")
    return redirect("checkins:checkin", checkin.pk)


@partner_required
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    agreement, viewer = access.partner_agreement_or_404(request)
    seat = viewer.seat
    form = StartForm(request.POST, rule_choices=_rule_choices(agreement))
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _list(request, seat, form, status=422)
    try:
        checkin, created = services.start(
            partner=seat, topic=form.cleaned_data["topic"], rule_ids=form.cleaned_data["rules"]
        )
    except services.CheckInError as error:
        messages.error(request, error.message)
        return redirect("checkins:list")
    if not created:
        messages.info(request, "A check-in is already open, so here it is.")
    target = reverse("checkins:checkin", args=[checkin.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@partner_required
@require_GET
def archived(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer = access.past_agreement_or_404(request, agreement_id)
    page = pages.list_page(agreement.couple_id, viewer.seat, can_write=False)
    return render(request, LIST, {"page": page, "form": None, "archived": agreement})


# -- one check-in ----------------------------------------------------------------------------------


def _render_checkin(
    request: HttpRequest,
    checkin,
    seat,
    can_write: bool,
    *,
    form=None,
    reply_form=None,
    error: str = "",
    status: int = 200,
    partial: bool = False,
) -> HttpResponse:
    view = pages.checkin_page(checkin, seat, can_write=can_write)
    if form is None and view.can_answer and (view.mine is None or not view.mine.is_sealed):
        mine = view.mine
        initial = {}
        if mine is not None:
            initial = {
                "sensation": mine.sensation,
                "emotion": mine.emotion,
                "want": mine.want,
                "overall": mine.overall,
                "wanted_to_stop": mine.wanted_to_stop,
            }
        form = AnswerForm(initial=initial)
    context = {
        "view": view,
        "checkin": view.checkin,
        "form": form,
        "reply_form": reply_form or ReplyForm(),
        "error": error,
        "viewer": "partner",
    }
    template = f"{PAGE}#checkin" if partial else PAGE
    response = render(request, template, context, status=status)
    response["ETag"] = view.etag
    response["Cache-Control"] = "no-store"
    return response


@partner_required
@require_GET
def checkin(request: HttpRequest, checkin_id: int) -> HttpResponse:
    found, seat, can_write = _partner_checkin(request, checkin_id)
    return _render_checkin(request, found, seat, can_write)


@partner_required
@require_GET
def poll(request: HttpRequest, checkin_id: int) -> HttpResponse:
    """The check-in element as it is now, or 304 when nothing changed since the ETag asked with."""
    found, seat, can_write = _partner_checkin(request, checkin_id)
    if not request.htmx:
        return redirect("checkins:checkin", checkin_id=found.pk)
    view = pages.checkin_page(found, seat, can_write=can_write)
    if view.etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
        response["ETag"] = view.etag
        response["Cache-Control"] = "no-store"
        return response
    return _render_checkin(request, found, seat, can_write, partial=True)


def _after(request: HttpRequest, checkin, seat, can_write: bool, *, error: str = "", status=200):
    """The answer to an action: the check-in element for htmx, a redirect otherwise."""
    if request.htmx:
        return _render_checkin(
            request, checkin, seat, can_write, error=error, status=status, partial=True
        )
    if error:
        messages.error(request, error)
    return redirect("checkins:checkin", checkin_id=checkin.pk)


@partner_required
@require_POST
def seal(request: HttpRequest, checkin_id: int) -> HttpResponse:
    found, seat, can_write = _partner_checkin(request, checkin_id)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.seal(partner=seat, checkin=found, **form.cleaned_data)
        except services.CheckInError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            return _after(request, found, seat, can_write)
    else:
        status = 422
    # What they wrote comes back to them, with the reason, so that nothing is lost.
    return _render_checkin(
        request,
        found,
        seat,
        can_write,
        form=form,
        error=first_error(form),
        status=status,
        partial=bool(request.htmx),
    )


def _action(request: HttpRequest, checkin_id: int, call) -> HttpResponse:
    found, seat, can_write = _partner_checkin(request, checkin_id)
    try:
        call(found, seat)
    except services.CheckInError as error:
        return _after(request, found, seat, can_write, error=error.message, status=error.status)
    return _after(request, found, seat, can_write)


@partner_required
@require_GET
def propose(request: HttpRequest, checkin_id: int) -> HttpResponse:
    """The new-rule form, its first draft this partner's own Want (read here, never passed in
    the URL); it posts to the agreement's new-rule view like any proposal."""
    checkin, seat, can_write = _partner_checkin(request, checkin_id)
    draft = pages.proposal_from(checkin, seat) if can_write else None
    if draft is None:
        raise Http404
    return render(request, "agreements/new_rule.html", {"form": WordingForm(initial=draft)})


@partner_required
@require_POST
def reopen(request: HttpRequest, checkin_id: int) -> HttpResponse:
    return _action(request, checkin_id, lambda c, s: services.reopen(partner=s, checkin=c))


@partner_required
@require_POST
def let_go(request: HttpRequest, checkin_id: int) -> HttpResponse:
    return _action(request, checkin_id, lambda c, s: services.let_go(partner=s, checkin=c))


@partner_required
@require_POST
def delete_answer(request: HttpRequest, checkin_id: int) -> HttpResponse:
    return _action(
        request, checkin_id, lambda c, s: services.delete_own_answer(partner=s, checkin=c)
    )


@partner_required
@require_POST
def reply(request: HttpRequest, checkin_id: int) -> HttpResponse:
    found, seat, can_write = _partner_checkin(request, checkin_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.add_reply(partner=seat, checkin=found, text=form.cleaned_data["text"])
        except services.CheckInError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            return _after(request, found, seat, can_write)
    else:
        status = 422
    if not request.htmx:
        messages.error(request, first_error(form))
    return _render_checkin(
        request,
        found,
        seat,
        can_write,
        reply_form=form,
        error=first_error(form),
        status=status,
        partial=bool(request.htmx),
    )


@partner_required
@require_POST
def share(request: HttpRequest, checkin_id: int) -> HttpResponse:
    form = ShareForm(request.POST)
    if not form.is_valid():
        found, seat, can_write = _partner_checkin(request, checkin_id)
        return _after(request, found, seat, can_write, error="Choose share or stop.", status=422)
    wanted = form.cleaned_data["share"]
    return _action(
        request,
        checkin_id,
        lambda c, s: services.set_sharing(partner=s, checkin=c, share=wanted),
    )


# -- the therapist's read-only view ----------------------------------------------------------------


@therapist_required
@require_GET
def therapist_list(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, _ = access.therapist_agreement_or_404(request, agreement_id)
    checkins = pages.shared_with_therapist(agreement.couple_id)
    partners = list(agreement.couple.partners.select_related("user"))
    return render(
        request,
        THERAPIST_LIST,
        {"agreement": agreement, "checkins": checkins, "partners": partners},
    )


@therapist_required
@require_GET
def therapist_checkin(request: HttpRequest, agreement_id: int, checkin_id: int) -> HttpResponse:
    found, viewer = access.shared_checkin_for_therapist_or_404(request, agreement_id, checkin_id)
    fresh = pages.checkins_of(found.couple_id).select_related("couple").get(pk=found.pk)
    view = pages.view_for_therapist(fresh)
    context = {
        "view": view,
        "checkin": view.checkin,
        "form": None,
        "viewer": "therapist",
        "agreement": viewer.therapist_access.agreement,
    }
    response = render(request, PAGE, context)
    response["Cache-Control"] = "no-store"
    return response
