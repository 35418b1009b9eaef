"""The therapist's read-only side. Built out in the therapist issue."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_therapist:
        raise Http404
    return render(request, "agreements/therapist/home.html", {"clients": []})
