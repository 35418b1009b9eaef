"""Names and titles are one line of printable characters: they go into email subjects, headings
and exports, where a line break or an invisible control character would let them write their own
structure (a forged line, a reversed URL)."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Joiners are format characters that writing needs: emoji sequences and Persian or Indic words.
JOINERS = {"\u200c", "\u200d"}
ONE_LINE_MESSAGE = (
    "Use a single line of ordinary characters: no line breaks, tabs or invisible characters."
)


def is_one_line(value: str) -> bool:
    for char in value:
        if char in JOINERS:
            continue
        category = unicodedata.category(char)
        # C*: control, format (bidirectional overrides), surrogates, private use, unassigned;
        # Zl, Zp: the Unicode line and paragraph separators.
        if category[0] == "C" or category in ("Zl", "Zp"):
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
