"""{% load bidi %}: a name or title a person wrote, isolated inside a sentence (intimacy/bidi.py).

    {% blocktranslate with name=partner.name|bdi %}You and {{ name }} …{% endblocktranslate %}

The catalogues' sentences stay as they are; the value carries its own <bdi>, its words escaped.
Not for attributes, <title> or plain-text emails: there a name needs nothing."""

from django import template

from intimacy import bidi as isolation

register = template.Library()


@register.filter
def bdi(words: object) -> str:
    return isolation.isolate(words)


@register.filter
def bdi_names(people: object) -> str:
    """A list of names, “Alice and Bob” in the page's language, each isolated."""
    return isolation.names(people or [])


@register.filter
def bdi_each(people: object) -> list:
    """Each name of a list isolated, for |join: partners|bdi_each|join:" & "."""
    return [isolation.isolate(name) for name in people or []]
