"""Text a person wrote (a name, a rule's title) keeps its own direction inside our sentences.

A Hebrew name in an English sentence, or an English title after the Hebrew "כלל 4:", would
otherwise take its neighbours' direction: "Bob!" drawn as "!Bob", the colon on the wrong side of
the number. Inside a sentence the words are isolated with <bdi> (the HTML equivalent of Unicode's
first-strong isolate); on an element of their own, templates put dir="auto" on it instead.

Everything here returns markup that is safe to render: the words themselves are always escaped,
never marked safe as they are."""

from collections.abc import Iterable

from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def _from_escaped(text: str) -> SafeString:
    # Every caller builds `text` from escaped pieces only (conditional_escape, format_html).
    return mark_safe(text)  # noqa: S308


def isolate(words: object) -> SafeString:
    """<bdi>words</bdi>, the words escaped (or kept as they are when they are markup already)."""
    if words is None or words == "":
        return _from_escaped("")
    return format_html("<bdi>{}</bdi>", words)


def fill(sentence: str, values: dict) -> SafeString:
    """`sentence % values` as markup: the sentence (ours, from a catalogue) and each value
    escaped, the values that are markup already (isolated names) kept as they are."""
    escaped = {key: conditional_escape(value) for key, value in values.items()}
    return _from_escaped(conditional_escape(sentence) % escaped)


def join(pieces: Iterable[object], separator: str = ", ") -> SafeString:
    return format_html_join(separator, "{}", ((piece,) for piece in pieces))


def upper_first(words: object) -> SafeString:
    """capfirst for a piece of a sentence that may be markup (its first character is a word's)."""
    return _from_escaped(capfirst(conditional_escape(words)))


def names(people: Iterable[object]) -> SafeString:
    """“Alice and Bob” (in the active language), each name isolated."""
    isolated = [isolate(name) for name in people]
    if len(isolated) < 2:
        return isolated[0] if isolated else _from_escaped("")
    return fill(_("%(items)s and %(last)s"), {"items": join(isolated[:-1]), "last": isolated[-1]})
