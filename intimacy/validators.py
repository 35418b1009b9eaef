"""Names and titles are one line of printable characters: they go into email subjects, headings
and exports, where a line break or an invisible control character would let them write their own
structure (a forged line, a reversed URL)."""

import functools
import unicodedata
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Joiners are format characters that writing needs: emoji sequences and Persian or Indic words.
JOINERS = {"\u200c", "\u200d"}
UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
ONE_LINE_MESSAGE = _(
    "Use a single line of ordinary characters: no line breaks, tabs or invisible characters."
)


def is_one_line(value: str) -> bool:
    for char in value:
        if char in JOINERS:
            continue
        # Cc: controls (line breaks, tabs); Cf: invisible format characters (bidirectional
        # overrides); Cs: lone surrogates; Zl, Zp: the Unicode line and paragraph separators.
        # Private-use and not-yet-assigned characters are allowed: newer emoji are among them.
        if unicodedata.category(char) in UNPRINTABLE:
            return False
    return True


@deconstructible
class OneLineValidator:
    message = ONE_LINE_MESSAGE
    code = "one_line"

    def __call__(self, value: str) -> None:
        if not is_one_line(str(value)):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OneLineValidator)

    def __hash__(self) -> int:
        return hash(self.code)


validate_one_line = OneLineValidator()


def one_line(value: str) -> str:
    """Any text made into one line of printable characters, for showing stored values whatever
    an older row may hold."""
    return " ".join("".join(c if is_one_line(c) else " " for c in value).split())


TIME_ZONE_MESSAGE = _(
    "Choose a time zone from the list, such as Europe/Berlin or America/Los_Angeles."
)


@functools.cache
def time_zones() -> frozenset[str]:
    """The zones this machine's time zone database knows (IANA names: "Europe/Berlin")."""
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(value: object) -> bool:
    return isinstance(value, str) and value in time_zones()


def validate_time_zone(value: str) -> None:
    if not is_time_zone(value):
        raise ValidationError(TIME_ZONE_MESSAGE, code="time_zone")
