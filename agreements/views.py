"""The agreement page and every partner action on it. Each action answers htmx with the updated
card (and the summary out of band) and a plain form post with a redirect back to the page."""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agreements import access, consent, notify, therapy
from agreements.cards import make_card, make_cards, summary
from agreements.forms import CommentForm, NoteForm, TherapistRequestForm, VersionForm, WordingForm
from agreements.models import Agreement, Rule, TherapistAccess
from agreements.timeline import rule_history, timeline_entries

PAGE = "agreements/agreement.html"


def partner_required(view):
    """Signed in, and not a therapist: therapists never reach a partner view (404)."""

    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_therapist:
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _page_context(agreement: Agreement, seat, *, can_act: bool, viewer: str = "partner") -> dict:
    rules = list(access.rules_for_page(agreement))
    shown = [r for r in rules if r.state != Rule.State.ARCHIVED]
    archived = [r for r in rules if r.state == Rule.State.ARCHIVED]
    return {
        "agreement": agreement,
        "seat": seat,
        "partners": list(agreement.couple.partners.select_related("user")),
        "cards": make_cards(shown, seat, can_act=can_act),
        "archived_cards": make_cards(archived, seat, can_act=can_act),
        "summary": summary(rules, seat),
        "general_comments": list(
            agreement.comments.filter(rule__isnull=True).select_related(
                "partner__user", "therapist"
            )
        ),
        "can_act": can_act,
        "viewer": viewer,
        "comment_form": CommentForm(),
    }


@partner_required
@require_GET
def agreement(request: HttpRequest) -> HttpResponse:
    seat = access.seat_or_404(request)
    agreement = access.current_agreement(seat)
    context = _page_context(agreement, seat, can_act=True)
    context["access_requests"] = list(
        agreement.therapist_accesses.select_related("therapist", "requested_by__user").filter(
            status__in=[TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE]
        )
    )
    response = render(request, PAGE, context)
    response["ETag"] = agreement.etag
    return response


@partner_required
@require_GET
def poll(request: HttpRequest) -> HttpResponse:
    """The live region of the page, or 304 when nothing happened since the ETag the page holds.
    An unchanged poll costs the user lookup and one query for the revision."""
    row = (
        Agreement.objects.filter(
            couple__partners__user=request.user,
            couple__partners__left_at__isnull=True,
        )
        .values_list("pk", "revision")
        .first()
    )
    if row is None:
        raise Http404
    notify.mark_present(request.user.pk)
    etag = f'"a{row[0]}r{row[1]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        seat = access.seat_or_404(request)
        agreement = access.current_agreement(seat)
        context = _page_context(agreement, seat, can_act=True)
        response = render(request, f"{PAGE}#live", context)
    response["ETag"] = etag
    response["Cache-Control"] = "no-store"
    return response


def _card_response(
    request: HttpRequest,
    rule: Rule,
    seat,
    *,
    status: int = 200,
    error: str = "",
    form=None,
    mode: str = "",
):
    """The updated card and summary for htmx; a redirect back to the page otherwise.
    With a mode, the card holds the form for that action (a change, a note)."""
    if not request.htmx:
        if status == 200:
            return redirect(f"{reverse('agreements:agreement')}#rule-{rule.pk}")
        if error:
            messages.error(request, error)
        agreement = access.current_agreement(seat)
        return render(request, PAGE, _page_context(agreement, seat, can_act=True), status=status)
    agreement = access.current_agreement(seat)
    rules = list(access.rules_for_page(agreement))
    fresh = next(r for r in rules if r.pk == rule.pk)
    shown = [r for r in rules if r.state != Rule.State.ARCHIVED]
    number = shown.index(fresh) + 1 if fresh in shown else 0
    card = make_card(fresh, number, seat, can_act=True)
    if mode and not (mode == "change" and card.can_change or card.waiting):
        mode = ""  # the rule moved on: nothing left to answer
    context = {
        "card": card,
        "summary": summary(rules, seat),
        "agreement": agreement,
        "error": error,
        "form": form,
        "mode": mode,
        "mode_action": card.urls[mode] if mode else "",
        "viewer": "partner",
        "oob": True,
    }
    response = render(request, f"{PAGE}#card-response", context, status=status)
    response["ETag"] = agreement.etag
    return response


def _mode_page(request: HttpRequest, rule: Rule, seat, mode: str, *, status: int = 200, form=None):
    """An action's form: inside the card for htmx, on a page of its own without JavaScript."""
    if request.htmx:
        return _card_response(
            request,
            rule,
            seat,
            mode=mode,
            form=form,
            status=status,
            error=_first_error(form) if form is not None and form.errors else "",
        )
    card = make_card(rule, 0, seat, can_act=True)
    context = {
        "card": card,
        "mode": mode,
        "mode_action": card.urls[mode],
        "form": form,
        "viewer": "partner",
        "agreement": rule.agreement,
    }
    return render(request, "agreements/rule_form.html", context, status=status)


def _act(request: HttpRequest, rule_id: int, action, form_class=VersionForm) -> HttpResponse:
    rule, seat = access.rule_of_partner_or_404(request, rule_id)
    form = form_class(request.POST)
    if not form.is_valid():
        return _card_response(request, rule, seat, status=422, error=_first_error(form), form=form)
    try:
        action(rule=rule, partner=seat, **form.cleaned_data)
    except consent.ConsentError as error:
        return _card_response(request, rule, seat, status=error.status, error=error.message)
    return _card_response(request, rule, seat)


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "Something in the form was not right."


def _versioned(action):
    def call(*, rule, partner, version, note=""):
        return action(rule=rule, partner=partner, version_id=version, note=note)

    return call


@partner_required
@require_POST
def accept(request: HttpRequest, rule_id: int) -> HttpResponse:
    def call(*, rule, partner, version, note=""):
        return consent.accept(rule=rule, partner=partner, version_id=version)

    return _act(request, rule_id, call)


@partner_required
@require_http_methods(["GET", "POST"])
def not_yet(request: HttpRequest, rule_id: int) -> HttpResponse:
    if request.method == "GET":
        return _mode_page(request, *access.rule_of_partner_or_404(request, rule_id), "not_yet")
    return _act(request, rule_id, _versioned(consent.not_yet))


@partner_required
@require_http_methods(["GET", "POST"])
def decline(request: HttpRequest, rule_id: int) -> HttpResponse:
    if request.method == "GET":
        return _mode_page(request, *access.rule_of_partner_or_404(request, rule_id), "decline")
    return _act(request, rule_id, _versioned(consent.decline))


@partner_required
@require_GET
def card(request: HttpRequest, rule_id: int) -> HttpResponse:
    """One rule card as it is now (after Cancel on an inline form)."""
    rule, seat = access.rule_of_partner_or_404(request, rule_id)
    if not request.htmx:
        return redirect(f"{reverse('agreements:agreement')}#rule-{rule.pk}")
    return _card_response(request, rule, seat)


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
    rule, seat = access.rule_of_partner_or_404(request, rule_id)
    if request.method == "POST":
        return _act(request, rule_id, consent.withdraw, NoteForm)
    cards = make_cards([rule], seat, can_act=True)
    return render(request, "agreements/withdraw.html", {"card": cards[0], "form": NoteForm()})


@partner_required
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule, seat = access.rule_of_partner_or_404(request, rule_id)
    card = make_card(rule, 0, seat, can_act=True)
    if request.method == "GET":
        if request.htmx:
            return _card_response(request, rule, seat, mode="change")
        draft = card.draft
        form = WordingForm(initial={"title": draft.title, "text": draft.text})
        return render(request, "agreements/change.html", {"card": card, "form": form})
    form = WordingForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return _card_response(
                request, rule, seat, status=422, error=_first_error(form), form=form, mode="change"
            )
        return render(request, "agreements/change.html", {"card": card, "form": form}, status=422)
    try:
        consent.propose_change(partner=seat, rule=rule, **form.cleaned_data)
    except consent.ConsentError as error:
        if request.htmx:
            return _card_response(
                request,
                rule,
                seat,
                status=error.status,
                error=error.message,
                form=form,
                mode="change",
            )
        messages.error(request, error.message)
        return render(
            request, "agreements/change.html", {"card": card, "form": form}, status=error.status
        )
    return _card_response(request, rule, seat)


@partner_required
@require_http_methods(["GET", "POST"])
def new_rule(request: HttpRequest) -> HttpResponse:
    seat = access.seat_or_404(request)
    agreement = access.current_agreement(seat)
    form = WordingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rule = consent.propose_rule(partner=seat, agreement=agreement, **form.cleaned_data)
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
    rule, seat = access.rule_of_partner_or_404(request, rule_id)
    return render(
        request,
        "agreements/history.html",
        {"rule": rule, "entries": rule_history(rule), "base": "partner"},
    )


@partner_required
@require_GET
def timeline(request: HttpRequest) -> HttpResponse:
    seat = access.seat_or_404(request)
    agreement = access.current_agreement(seat)
    return render(
        request,
        "agreements/timeline.html",
        {"agreement": agreement, "events": timeline_entries(agreement), "base": "partner"},
    )


@partner_required
@require_POST
def reply(request: HttpRequest) -> HttpResponse:
    """A partner's reply to a therapist's comments (on a rule, or on the whole agreement)."""
    seat = access.seat_or_404(request)
    agreement = access.current_agreement(seat)
    form = CommentForm(request.POST)
    if form.is_valid():
        rule = None
        if form.cleaned_data["rule"]:
            rule, _ = access.rule_of_partner_or_404(request, form.cleaned_data["rule"])
        try:
            therapy.add_comment(
                agreement=agreement, rule=rule, partner=seat, text=form.cleaned_data["text"]
            )
        except consent.ConsentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Your reply was added.")
    else:
        messages.error(request, _first_error(form))
    anchor = (
        f"#rule-{form.cleaned_data['rule']}"
        if form.is_valid() and form.cleaned_data["rule"]
        else "#comments"
    )
    return redirect(reverse("agreements:agreement") + anchor)


@partner_required
@require_GET
def archived(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, seat = access.past_agreement_or_404(request, agreement_id)
    context = _page_context(agreement, seat, can_act=False, viewer="former")
    return render(request, PAGE, context)


@partner_required
@require_GET
def archived_timeline(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, seat = access.past_agreement_or_404(request, agreement_id)
    return render(
        request,
        "agreements/timeline.html",
        {"agreement": agreement, "events": timeline_entries(agreement), "base": "former"},
    )


def print_context(agreement: Agreement) -> dict:
    """The printable page: the rules in force only, in the agreement's order (for an archived
    agreement, those in force when it ended)."""
    rules = list(
        agreement.rules.select_related("current_version")
        .filter(state=Rule.State.ACTIVE)
        .order_by("position", "pk")
    )
    return {
        "agreement": agreement,
        "partners": list(agreement.couple.partners.select_related("user")),
        "rules": rules,
        "made_on": timezone.now(),
    }


@partner_required
@require_GET
def print_page(request: HttpRequest) -> HttpResponse:
    seat = access.seat_or_404(request)
    context = print_context(access.current_agreement(seat))
    context["viewer"] = "partner"
    return render(request, "agreements/print.html", context)


@partner_required
@require_GET
def archived_print(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement, _ = access.past_agreement_or_404(request, agreement_id)
    context = print_context(agreement)
    context["viewer"] = "former"
    return render(request, "agreements/print.html", context)


@partner_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def therapist_access(request: HttpRequest) -> HttpResponse:
    """Who has access, since when, last viewed; ask for access, answer a request, end access.
    Re-authentication first: this decides who may read the agreement."""
    seat = access.seat_or_404(request)
    agreement = access.current_agreement(seat)
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
                access_id = _int(request.POST.get("access"))
                if not agreement.therapist_accesses.filter(pk=access_id).exists():
                    raise Http404
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
    accesses = list(
        agreement.therapist_accesses.select_related(
            "therapist", "requested_by__user", "approved_by__user"
        )
    )
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "agreements/therapist_access.html",
        {
            "seat": seat,
            "current": [a for a in accesses if a.status in ("requested", "active")],
            "past": [a for a in accesses if a.status in ("declined", "ended")],
            "form": form,
        },
        status=status,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None
