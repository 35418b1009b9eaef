"""The nine rules every agreement starts with, as proposals neither partner has accepted yet.

Written in our own words after the nine "rules of the road" for sexual intimacy in the article in
shared/seed/; every one can be changed, declined or archived like any other rule.

Here in English, marked for translation: an agreement starts with them in the language of the
partner who invited (agreements.partnership.start_agreement), stored as ordinary wording that
never changes language by itself. A solo page shows them in its reader's language.
"""

from django.utils.translation import gettext, gettext_noop

DEFAULT_RULES: list[tuple[str, str]] = [
    (
        gettext_noop("Stop when it is not good for both"),
        gettext_noop(
            "If what we are doing is not pleasurable to both of us, we stop. Either of us can say so at any moment, and stopping is never a failure."
        ),
    ),
    (
        gettext_noop("Stop and support when one of us is triggered"),
        gettext_noop(
            "When something happens and one of us is triggered into reactivity, we stop and support that person to go through the whole feeling, at their pace, before anything else."
        ),
    ),
    (
        gettext_noop("Each of us owns our pleasure"),
        gettext_noop(
            "Each of us is fully responsible for our own pleasure: we ask for what we want and say clearly what we do not want, instead of waiting for the other to guess."
        ),
    ),
    (
        gettext_noop("Safety comes from telling the truth"),
        gettext_noop(
            'Safety is the ground of our sexual and emotional connection, and we each create it by telling the truth, including "I want to stop" and "I feel angry because I didn\'t get what I wanted."'
        ),
    ),
    (
        gettext_noop("Tell the unarguable truth, also during sex"),
        gettext_noop(
            "Our sexual relationship is about our deepest connection. We practise telling the unarguable truth (what we sense, what we feel, what we want) throughout our relationship, and while we are being sexual."
        ),
    ),
    (
        gettext_noop("Equals, with room for both voices"),
        gettext_noop(
            "We name the power differences between us and treat each other as equals, teammates and allies, so that there is always room for each of us to tell the truth."
        ),
    ),
    (
        gettext_noop("We define what sex means to us"),
        gettext_noop(
            'We decide together what "sex" means for us. We are not bound by a definition that puts intercourse or orgasm first; we celebrate pleasure and each of us getting what we really want.'
        ),
    ),
    (
        gettext_noop("No pressure tactics"),
        gettext_noop(
            "We let go of behaviour meant to get the other to do, or not do, what we want: outbursts of anger, silence, withdrawal, storming off, going numb, collapsing, criticising ourselves or each other, or taking part passively."
        ),
    ),
    (
        gettext_noop("No threats to end the relationship"),
        gettext_noop(
            "Threats to end the relationship cast a shadow of conditionality over our whole sexual life and make real connection impossible. We do not make them; we work things out together."
        ),
    ),
]


def in_active_language() -> list[tuple[str, str]]:
    """The nine (title, wording) in the active language (English where a catalogue lacks one)."""
    return [(gettext(title), gettext(text)) for title, text in DEFAULT_RULES]
