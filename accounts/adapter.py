"""allauth's emails go the way ours do: rendered in the request, queued after commit, sent by
the worker (intimacy/emails.py), with links at SITE_URL like every other link we send."""

from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal import flows
from allauth.core.exceptions import ImmediateHttpResponse
from django.db import IntegrityError, transaction
from django.utils import translation

from intimacy import emails

# The absolute links allauth puts in its email contexts, built from the request's host.
LINKS = ("activate_url", "password_reset_url", "signup_url")


def on_site(url: str) -> str:
    """The same path and query at SITE_URL."""
    site = urlsplit(emails.site_url())
    parts = urlsplit(url)
    return urlunsplit((site.scheme, site.netloc, parts.path, parts.query, parts.fragment))


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        context = {"email": email, **context, "site_url": emails.site_url()}
        for name in LINKS:
            if context.get(name):
                context[name] = on_site(context[name])
        # In the recipient's zone and language: the account's, when allauth says whose it is;
        # else (no account for the address) the language of the page that asked for it.
        user = context.get("user")
        zone = getattr(user, "time_zone", "")
        language = getattr(user, "language", "") or translation.get_language() or ""
        with emails.in_zone(zone), emails.in_language(language):
            message = self.render_mail(template_prefix, email, context)
        emails.queue(message)

    def save_user(self, request, user, form, commit=True):
        """Two sign-ups with one new address at the same instant: the one that commits second
        is answered as a sign-up for an address that has an account (the same page, and at most
        the rate-limited "you already have an account" email), never with a 500."""
        try:
            with transaction.atomic():
                return super().save_user(request, user, form, commit)
        except IntegrityError:
            model = type(user)
            if not commit or not model.objects.filter(email__iexact=user.email).exists():
                raise
        raise ImmediateHttpResponse(flows.signup.prevent_enumeration(request, email=user.email))
