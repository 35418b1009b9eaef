"""Sending the app's own emails: neutral wording only (see templates/emails/), after commit."""

import contextlib
import threading

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string

_state = threading.local()


@contextlib.contextmanager
def muted():
    """No email for what happens inside (the demo data, for one)."""
    _state.muted = True
    try:
        yield
    finally:
        _state.muted = False


def send(template: str, to: str, context: dict | None = None) -> None:
    """Renders templates/emails/<template>_subject.txt and _body.txt and sends them once the
    surrounding transaction commits (never for a change that was rolled back)."""
    if getattr(_state, "muted", False):
        return
    context = {"site_url": settings.SITE_URL, **(context or {})}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    body = render_to_string(f"emails/{template}_body.txt", context)
    message = EmailMessage(subject=subject, body=body, to=[to])
    transaction.on_commit(message.send)
