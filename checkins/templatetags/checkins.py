"""{% checkin_waiting %}: one line on a partner's page when a check-in waits for their answer
(never what anyone wrote). Place it with {% include "checkins/_waiting.html" %} on any page."""

from django import template

from checkins import pages

register = template.Library()


@register.inclusion_tag("checkins/_waiting_line.html", takes_context=True)
def checkin_waiting(context) -> dict:
    """Read for the page that shows it (one query): a check-in the clock has closed since the
    last write is not waiting (CheckIn.objects.open_now)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_therapist:
        return {"waiting": None}
    viewer = context.get("viewer")
    seat = viewer.seat if viewer is not None and viewer.may_act else context.get("seat")
    if seat is None and viewer is None:
        seat = user.current_partner_seat()
    return {"waiting": pages.waiting_for(seat) if seat else None}
