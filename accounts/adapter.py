"""allauth's emails go the way ours do: rendered in the request, queued after commit, sent by
the worker (intimacy/emails.py), with links at SITE_URL like every other link we send."""

from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter

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
        emails.queue(self.render_mail(template_prefix, email, context))
