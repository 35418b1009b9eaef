"""For pages that list many rows (the therapist's client couples, the check-ins): what a
template tag would do for each row, done once per page.

`{{ moment|date:_("j F Y") }}` converts to the viewer's time zone and looks up the localised month
name for every row, `{% url %}` reverses for every row, `{% blocktranslate %}` translates for
every row: for a list of fifty, most of the page's time. These give the same strings, in the
language and time zone the request activated, each distinct one made once. They are made for
one request and never kept longer."""

from collections.abc import Callable
from datetime import date, datetime

from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

_PLACEHOLDER = 4_611_686_018_427_387_904  # an id no row has: where the row's id goes


def address(name: str) -> Callable[[int], str]:
    """`{% url name id %}` for many ids: the URL is reversed once, with a placeholder."""
    before, _, after = reverse(name, args=[_PLACEHOLDER]).partition(str(_PLACEHOLDER))
    return lambda pk: f"{before}{pk}{after}"


def sentence(translated: str, **values) -> SafeString:
    """A translated sentence with its values, as `{% blocktranslate %}` writes it: the
    catalogue's words as they are (they may hold markup, as the template's do), the values
    escaped."""
    return mark_safe(translated % {k: conditional_escape(v) for k, v in values.items()})  # noqa: S308


class Dates:
    """Dates as the template filter `date` writes them, in the request's time zone and language."""

    def __init__(self) -> None:
        self.zone = timezone.get_current_timezone()
        self._days: dict[tuple[date, str], str] = {}
        self._offsets: dict[tuple, str] = {}

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)  # aware, as USE_TZ reads every moment

    def day(self, moment: datetime, format: str = "") -> str:
        """`moment|date:format`, for a format of the day alone (the language's "j F Y" when none
        is given, or its "j M Y")."""
        format = format or gettext("j F Y")
        day = self.local(moment).date()
        text = self._days.get((day, format))
        if text is None:
            text = self._days[day, format] = formats.date_format(day, format)
        return text

    def day_and_time(self, moment: datetime) -> str:
        """`moment|date:_("j F Y, H:i")`: every language writes it as its "j F Y", then ", H:i"
        (tests/test_rows.py)."""
        local = self.local(moment)
        return f"{self.day(local)}, {local:%H:%M}"

    def iso(self, moment: datetime) -> str:
        """`moment|date:'Y-m-d\\TH:i:sO'`, for <time datetime>."""
        local = self.local(moment)
        # The filter writes the offset, or nothing for a time the clock change makes ambiguous:
        # both depend on the offsets of the time and of its other fold alone.
        offsets = (local.utcoffset(), local.replace(fold=not local.fold).utcoffset())
        sign = self._offsets.get(offsets)
        if sign is None:
            sign = self._offsets[offsets] = dateformat.format(local, "O")
        return f"{local:%Y-%m-%dT%H:%M:%S}{sign}"
