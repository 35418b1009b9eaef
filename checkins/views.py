"""Check-in screens. Thin: parse, ask the gate, call a service or a page builder, render. An htmx
request gets the check-in element back (the page's own partial); a plain post a redirect."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Partner
from agreements import access
from agreements.access import partner_required, therapist_required
from agreements.forms import WordingForm, first_error
from agreements.pages import memo
from checkins import pages, services
from checkins.forms import AnswerForm, ReplyForm, ShareForm, StartForm
from checkins.models import CheckIn

LIST = "checkins/list.html"
LIST_BODY = "checkins/_list_body.html"
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
    rows = pages.couple_rows(seat.couple, agreement, partners)
    extras = pages.list_extras(rows, agreement)

    def context() -> dict:
        return {
            "page": pages.list_page(rows, seat, partners, can_write=True),
            "form": form or StartForm(rule_choices=extras["rule_choices"]),
            "archived": None,
            "exercises": extras["exercises"],
        }

    if form is not None:  # what they typed comes back: never kept
        return render(request, LIST, context(), status=status)

    def whole(extra: dict) -> str:
        kept = pages.kept_html((rows.key, "list", seat.pk), LIST_BODY, context)
        page = {"kept": kept} if kept else context()
        return render_to_string(LIST, page | extra, request=request)

    key = (rows.key, "list page", seat.pk)
    return HttpResponse(memo.whole_page(request, memo.checkin_pages, key, whole), status=status)


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
    agreement, viewer, partners = access.partner_checkins_or_404(request)
    seat = viewer.seat
    rows = pages.couple_rows(seat.couple, agreement, partners)
    rule_choices = pages.list_extras(rows, agreement)["rule_choices"]
    form = StartForm(request.POST, rule_choices=rule_choices)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _list(request, agreement, viewer, partners, form, status=422)
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
    partners = pages.partners_of(agreement.couple_id)
    rows = pages.couple_rows(viewer.seat.couple, agreement, partners)
    page = pages.list_page(rows, viewer.seat, partners, can_write=False)
    return render(request, LIST, {"page": page, "form": None, "archived": agreement})


# -- one check-in ----------------------------------------------------------------------------------


@dataclass
class Door:
    """A check-in as the gate let this partner in: the couple's rows as of the revisions the
    gate read (checkins/pages.py), and who is asking."""

    checkin_id: int
    seat: Partner
    can_write: bool
    partners: list[Partner]
    rows: pages.CoupleRows

    @property
    def checkin(self) -> CheckIn:
        found = self.rows.find(self.checkin_id)
        if found is None:
            raise Http404
        return found


def _door(request: HttpRequest, checkin_id: int, *, fresh: bool = False) -> Door:
    """`fresh`: after this request changed something (the seat read with the user at its start
    holds the check-in revision from before)."""
    checkin_id, viewer, partners = access.checkin_of_partner_or_404(
        request, checkin_id, fresh=fresh
    )
    seat = viewer.seat
    rows = pages.couple_rows(seat.couple, seat.couple.agreement, partners)
    return Door(checkin_id, seat, viewer.may_act, partners, rows)


def _render_checkin(
    request: HttpRequest,
    door: Door,
    *,
    form=None,
    reply_form=None,
    error: str = "",
    status: int = 200,
    partial: bool = False,
) -> HttpResponse:
    view = pages.checkin_page(
        door.rows, door.checkin.pk, door.seat, door.partners, can_write=door.can_write
    )
    # Only what follows from the rows and the viewer is kept: never what someone just typed.
    keep = form is None and reply_form is None and not error
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
    body = f"{PAGE_BODY}#checkin" if partial else PAGE_BODY
    if not keep:
        response = render(request, body if partial else PAGE, context, status=status)
    else:
        key = (door.rows.key, "checkin", door.checkin.pk, door.seat.pk, door.can_write, partial)
        if partial:
            kept = pages.kept_html(key, body, lambda: context)
            response = HttpResponse(get_token(request).join(kept), status=status)
        else:

            def whole(extra: dict) -> str:
                kept = pages.kept_html(key, body, lambda: context)
                return render_to_string(PAGE, {**context, "kept": kept} | extra, request=request)

            html = memo.whole_page(request, memo.checkin_pages, (*key, "page"), whole)
            response = HttpResponse(html, status=status)
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
    view = pages.checkin_page(
        door.rows, door.checkin.pk, door.seat, door.partners, can_write=door.can_write
    )
    if view.etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
        response["ETag"] = view.etag
        response["Cache-Control"] = "no-store"
        return response
    return _render_checkin(request, door, partial=True)


def _after(request: HttpRequest, checkin_id: int, *, error: str = "", status=200):
    """The answer to an action: the check-in element for htmx (read afresh through the gate, at
    the revision the action left), a redirect otherwise."""
    if request.htmx:
        door = _door(request, checkin_id, fresh=True)
        return _render_checkin(request, door, error=error, status=status, partial=True)
    if error:
        messages.error(request, error)
    return redirect("checkins:checkin", checkin_id=checkin_id)


@partner_required
@require_POST
def seal(request: HttpRequest, checkin_id: int) -> HttpResponse:
    door = _door(request, checkin_id)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.seal(partner=door.seat, checkin=door.checkin, **form.cleaned_data)
        except services.CheckInError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            return _after(request, door.checkin_id)
    else:
        status = 422
    # What they wrote comes back to them, with the reason, so that nothing is lost.
    return _render_checkin(
        request,
        _door(request, checkin_id, fresh=True),
        form=form,
        error=first_error(form),
        status=status,
        partial=bool(request.htmx),
    )


def _action(request: HttpRequest, checkin_id: int, call) -> HttpResponse:
    door = _door(request, checkin_id)
    try:
        call(door.checkin, door.seat)
    except services.CheckInError as error:
        return _after(request, door.checkin_id, error=error.message, status=error.status)
    return _after(request, door.checkin_id)


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
    door = _door(request, checkin_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.add_reply(
                partner=door.seat, checkin=door.checkin, text=form.cleaned_data["text"]
            )
        except services.CheckInError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            return _after(request, door.checkin_id)
    else:
        status = 422
    if not request.htmx:
        messages.error(request, first_error(form))
    return _render_checkin(
        request,
        _door(request, checkin_id, fresh=True),
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
        door = _door(request, checkin_id)
        return _after(request, door.checkin_id, error="Choose share or stop.", status=422)
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
