from datetime import datetime

from django import template
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from intimacy.useragent import describe

register = template.Library()


@register.filter
def browser(user_agent: str | None) -> str:
    """ "Chrome on Android", from the raw identification string."""
    return describe(user_agent)


@register.filter
def ago(moment: datetime | None) -> str:
    """ "3 hours ago" (the largest unit only), or "just now"."""
    if moment is None:
        return ""
    since = timesince(moment, depth=1)
    if since.startswith("0"):
        return _("just now")
    return _("%(time)s ago") % {"time": since}
