"""Thin views, by audience: `partner` (the agreement and its pages), `rules` (actions on one rule
card) and `therapist` (the therapist's read-only side). Each parses the request, asks
`agreements.access` for the object, calls a service or a page builder, and renders."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agreements.access import Viewer
from agreements.models import Agreement
from agreements.pages import agreement as pages
from agreements.pages import ledger


def render_timeline(request: HttpRequest, agreement: Agreement, viewer: Viewer) -> HttpResponse:
    """The agreement's timeline, to whichever reader its gate let through."""
    return render(
        request,
        "agreements/timeline.html",
        ledger.timeline_page(agreement, viewer, request.GET.get("page")),
    )


def render_print(request: HttpRequest, agreement: Agreement, viewer: Viewer) -> HttpResponse:
    """The agreement's printable page, to whichever reader its gate let through."""
    return render(request, "agreements/print.html", pages.print_page(agreement, viewer))
