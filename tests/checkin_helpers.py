"""Shared set-up for the check-in tests."""

from checkins import services
from checkins.models import CheckIn


def revealed(a, b, *, a_words=None, b_words=None, topic: str = "") -> CheckIn:
    checkin, _ = services.start(partner=a, topic=topic)
    services.seal(
        partner=a, checkin=checkin, **(a_words or {"want": "More slowness", "overall": 4})
    )
    services.seal(
        partner=b, checkin=checkin, **(b_words or {"want": "Kissing first", "overall": 5})
    )
    return CheckIn.objects.get(pk=checkin.pk)
