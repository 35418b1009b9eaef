"""Audit logging of sign-ins (never with sensitive data) and clearing the browser on logout."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

log = logging.getLogger("intimacy.audit")


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs) -> None:
    log.info("sign-in user=%s", user.pk)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    log.warning("failed sign-in")


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs) -> None:
    if request is not None:
        request.clear_site_data = True
    log.info("sign-out user=%s", getattr(user, "pk", None))
