"""The therapist's read-only side: client couples, their agreements, history, timeline, print,
review comments and stepping away. Every view goes through `therapist_required` (two-factor on
before any client data) and `access.therapist_access_or_404` (a live access, else 404)."""

from functools import wraps

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Partner, User
from agreements import access, therapy
from agreements.forms import CommentForm
from agreements.models import Event, Rule, TherapistAccess
from agreements.timeline import rule_history, timeline_entries
from agreements.views import PAGE, _page_context, print_context

SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def has_second_factor(user: User) -> bool:
    """Recovery codes alone do not count: they only back up a real second factor."""
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def therapist_required(view):
    """Signed in as a therapist (anyone else: 404), with two-factor authentication turned on;
    without it the therapist gets a page asking for it, and no client data at all."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_therapist:
            raise Http404
        if not has_second_factor(request.user):
            return render(request, "agreements/therapist/two_factor_required.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _count(queryset) -> Coalesce:
    """The number of rows of a correlated queryset, as a subquery (0 when there are none)."""
    counted = queryset.order_by().values("agreement_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def client_accesses(therapist: User):
    """The therapist's live accesses with everything the home page shows, in a fixed number of
    queries however many couples there are."""
    rules = Rule.objects.filter(agreement=OuterRef("agreement_id")).exclude(
        state=Rule.State.ARCHIVED
    )
    events = Event.objects.filter(agreement=OuterRef("agreement_id"))
    # What the partners did since the last visit; the therapist's own comments are not news.
    news = events.filter(
        created_at__gt=Coalesce(OuterRef("last_viewed_at"), OuterRef("granted_at"))
    ).exclude(therapist=therapist, partner__isnull=True)
    current = Partner.objects.filter(left_at__isnull=True).select_related("user")
    return (
        TherapistAccess.objects.filter(
            therapist=therapist,
            status=TherapistAccess.Status.ACTIVE,
            agreement__couple__ended_at__isnull=True,
        )
        .select_related("agreement__couple")
        .defer("email")  # encrypted, and not shown here: no need to decrypt it for every couple
        .prefetch_related(
            Prefetch("agreement__couple__partners", queryset=current, to_attr="current_partners")
        )
        .annotate(
            in_force=_count(rules.filter(state=Rule.State.ACTIVE)),
            waiting=_count(rules.filter(pending_version__isnull=False)),
            paused=_count(rules.filter(state=Rule.State.PAUSED)),
            total=_count(rules),
            news=_count(news),
            last_activity=Subquery(events.order_by("-created_at").values("created_at")[:1]),
        )
        .order_by(F("last_activity").desc(nulls_last=True), "pk")
    )


@therapist_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "agreements/therapist/home.html", {"clients": list(client_accesses(request.user))}
    )


@therapist_required
@require_GET
def couple(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The agreement, read-only, with the review comment forms. Opening it counts as a visit."""
    live = access.therapist_access_or_404(request, agreement_id)
    agreement = live.agreement
    context = _page_context(agreement, None, can_act=False, viewer="therapist")
    previous = therapy.record_view(
        live, prefetch="prefetch" in request.headers.get("Sec-Purpose", "")
    )
    since = previous or live.granted_at
    context.update(
        access=live,
        previous_visit=previous,
        news=agreement.events.filter(created_at__gt=since)
        .exclude(therapist=request.user, partner__isnull=True)
        .count(),
    )
    return render(request, PAGE, context)


@therapist_required
@require_GET
def history(request: HttpRequest, agreement_id: int, rule_id: int) -> HttpResponse:
    live = access.therapist_access_or_404(request, agreement_id)
    rule = Rule.objects.filter(pk=rule_id, agreement_id=live.agreement_id).first()
    if rule is None:
        raise Http404
    return render(
        request,
        "agreements/history.html",
        {"rule": rule, "entries": rule_history(rule), "base": "therapist"},
    )


@therapist_required
@require_GET
def timeline(request: HttpRequest, agreement_id: int) -> HttpResponse:
    live = access.therapist_access_or_404(request, agreement_id)
    agreement = live.agreement
    return render(
        request,
        "agreements/timeline.html",
        {"agreement": agreement, "events": timeline_entries(agreement), "base": "therapist"},
    )


@therapist_required
@require_GET
def print_page(request: HttpRequest, agreement_id: int) -> HttpResponse:
    live = access.therapist_access_or_404(request, agreement_id)
    context = print_context(live.agreement)
    context["viewer"] = "therapist"
    return render(request, "agreements/print.html", context)


@therapist_required
@require_POST
def comment(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """A review comment on one rule (the form's `rule`) or on the whole agreement."""
    live = access.therapist_access_or_404(request, agreement_id)
    agreement = live.agreement
    page = reverse("therapist:couple", args=[agreement.pk])
    form = CommentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
            break
        return redirect(page + "#comments")
    rule = None
    if form.cleaned_data["rule"]:
        rule = agreement.rules.filter(pk=form.cleaned_data["rule"]).first()
        if rule is None:
            raise Http404
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
    live = access.therapist_access_or_404(request, agreement_id)
    therapy.end_access(access_id=live.pk, therapist=request.user)
    messages.success(request, "You stepped away. You no longer have access to that agreement.")
    return redirect("therapist:home")
