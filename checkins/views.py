"""Check-in screens. Thin: parse, ask the gate, call a service or a page builder, render. An htmx
request gets the check-in element back (the page's own partial); a plain post a redirect."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Partner
from agreements.access import partner_required, therapist_required
from agreements.forms import WordingForm, first_error
from checkins import access, pages, services
from checkins.forms import AnswerForm, ReplyForm, ShareForm, StartForm
from checkins.models import CheckIn

LIST = "checkins/list.html"
PAGE = "checkins/checkin.html"
PAGE_BODY = "checkins/_checkin_body.html"
THERAPIST_LIST = "checkins/therapist_list.html"


# -- the list --------------------------------------------------------------------------------------


@partner_required
@require_GET
def checkin_list(request: HttpRequest) -> HttpResponse:
    return _list(request, *access.partner_checkins_or_404(request))


def _list(request: HttpRequest, agreement, viewer, partners, form=None, *, status=200):
    seat = viewer.seat
    page = pages.list_page(seat.couple, seat, partners, can_write=True)
    if form is None and page.open_view is None:  # the start form shows only then
        form = StartForm(rule_choices=pages.rule_choices(agreement))
    context = {
        "page": page,
        "form": form,
        "archived": None,
        "exercises": pages.exercises_of(agreement),
    }
    return render(request, LIST, context, status=status)


@partner_required
@require_POST
def start_exercise(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """A check-in a therapist invited the couple to, started with the therapist's prompt."""
    invitation_id, viewer = access.exercise_of_partner_or_404(request, invitation_id)
    try:
        checkin, _created = services.start_from_invitation(
            partner=viewer.seat, invitation_id=invitation_id
        )
    except services.CheckInError as error:
        messages.error(request, error.message)
        return redirect("checkins:list")
    return redirect("checkins:checkin", checkin.pk)


@partner_required
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    agreement, viewer, partners = access.partner_checkins_or_404(request)
    form = StartForm(request.POST, rule_choices=pages.rule_choices(agreement))
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _list(request, agreement, viewer, partners, form, status=422)
    try:
        checkin, created = services.start(
            partner=viewer.seat,
            topic=form.cleaned_data["topic"],
            rule_ids=form.cleaned_data["rules"],
        )
    except services.CheckInError as error:
        messages.error(request, error.message)
        return redirect("checkins:list")
    if not created:
        messages.info(request, _("A check-in is already open, so here it is."))
    target = reverse("checkins:checkin", args=[checkin.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@partner_required
@require_GET
def archived(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, viewer, partners = access.past_checkins_or_404(request, agreement_id)
    page = pages.list_page(viewer.seat.couple, viewer.seat, partners, can_write=False)
    return render(request, LIST, {"page": page, "form": None, "archived": agreement})


# -- one check-in ----------------------------------------------------------------------------------


@dataclass
class Door:
    """A check-in as the gate let this partner in, and who is asking."""

    checkin: CheckIn
    seat: Partner
    can_write: bool
    partners: list[Partner]


def _door(request: HttpRequest, checkin_id: int) -> Door:
    checkin, viewer, partners = access.checkin_of_partner_or_404(request, checkin_id)
    return Door(checkin, viewer.seat, viewer.may_act, partners)


def _render_checkin(
    request: HttpRequest,
    door: Door,
    *,
    form=None,
    reply_form=None,
    error: str = "",
    status: int = 200,
    partial: bool = False,
    view: pages.CheckInView | None = None,
) -> HttpResponse:
    if view is None:
        view = pages.checkin_page(door.checkin, door.seat, door.partners, can_write=door.can_write)
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
    response = render(request, f"{PAGE_BODY}#checkin" if partial else PAGE, context, status=status)
    response["ETag"] = view.etag
    response["Cache-Control"] = "no-store"
    return response


@partner_required
@require_GET
def checkin(request: HttpRequest, checkin_id: int) -> HttpResponse:
    return _render_checkin(request, _door(request, checkin_id))


@partner_required
@require_GET
def poll(request: HttpRequest, checkin_id: int) -> HttpResponse:
    """The check-in element as it is now, or 304 when nothing changed since the ETag asked with."""
    door = _door(request, checkin_id)
    if not request.htmx:
        return redirect("checkins:checkin", checkin_id=door.checkin.pk)
    view = pages.checkin_page(door.checkin, door.seat, door.partners, can_write=door.can_write)
    if view.etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
        response["ETag"] = view.etag
        response["Cache-Control"] = "no-store"
        return response
    return _render_checkin(request, door, partial=True, view=view)


def _after(request: HttpRequest, checkin_id: int, *, error: str = "", status=200):
    """The answer to an action: the check-in element for htmx (read again through the gate,
    as the action left it), a redirect otherwise."""
    if request.htmx:
        door = _door(request, checkin_id)
        return _render_checkin(request, door, error=error, status=status, partial=True)
    if error:
        messages.error(request, error)
    return redirect("checkins:checkin", checkin_id=checkin_id)


@partner_required
@require_POST
def seal(request: HttpRequest, checkin_id: int) -> HttpResponse:
    return _submit(
        request,
        checkin_id,
        AnswerForm(request.POST),
        lambda door, data: services.seal(partner=door.seat, checkin=door.checkin, **data),
    )


def _submit(
    request: HttpRequest, checkin_id: int, form, write, *, form_name: str = "form"
) -> HttpResponse:
    """A form posted to a check-in: written by `write(door, cleaned_data)`, then the answer to an
    action; refused or invalid, what they wrote comes back to them in the page's `form_name`,
    with the reason, so that nothing is lost (a plain reply's reason is also flashed)."""
    door = _door(request, checkin_id)
    if form.is_valid():
        try:
            write(door, form.cleaned_data)
        except services.CheckInError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            return _after(request, door.checkin.pk)
    else:
        status = 422
    if form_name == "reply_form" and not request.htmx:
        messages.error(request, first_error(form))
    return _render_checkin(
        request,
        _door(request, checkin_id),
        **{form_name: form},
        error=first_error(form),
        status=status,
        partial=bool(request.htmx),
    )


def _action(request: HttpRequest, checkin_id: int, call) -> HttpResponse:
    door = _door(request, checkin_id)
    try:
        call(door.checkin, door.seat)
    except services.CheckInError as error:
        return _after(request, door.checkin.pk, error=error.message, status=error.status)
    return _after(request, door.checkin.pk)


@partner_required
@require_GET
def propose(request: HttpRequest, checkin_id: int) -> HttpResponse:
    """The new-rule form, its first draft this partner's own Want (read here, never passed in
    the URL); it posts to the agreement's new-rule view like any proposal."""
    door = _door(request, checkin_id)
    draft = pages.proposal_from(door.checkin, door.seat) if door.can_write else None
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
    return _submit(
        request,
        checkin_id,
        ReplyForm(request.POST),
        lambda door, data: services.add_reply(
            partner=door.seat, checkin=door.checkin, text=data["text"]
        ),
        form_name="reply_form",
    )


@partner_required
@require_POST
def share(request: HttpRequest, checkin_id: int) -> HttpResponse:
    form = ShareForm(request.POST)
    if not form.is_valid():
        door = _door(request, checkin_id)
        return _after(request, door.checkin.pk, error=_("Choose share or stop."), status=422)
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
    agreement, _viewer = access.therapist_couple_or_404(request, agreement_id)
    couple = agreement.couple
    context = {
        "agreement": agreement,
        "checkins": pages.shared_with_therapist(couple),
        "partners": pages.partners_of(couple.pk),
    }
    return render(request, THERAPIST_LIST, context)


@therapist_required
@require_GET
def therapist_checkin(request: HttpRequest, agreement_id: int, checkin_id: int) -> HttpResponse:
    checkin, viewer = access.shared_checkin_for_therapist_or_404(request, agreement_id, checkin_id)
    view = pages.view_for_therapist(checkin)
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
