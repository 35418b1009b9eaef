"""The nine rules every agreement starts with, as proposals neither partner has accepted yet.

Written in our own words after the nine "rules of the road" for sexual intimacy in the article in
shared/seed/; every one can be changed, declined or archived like any other rule.
"""

DEFAULT_RULES: list[tuple[str, str]] = [
    (
        "Stop when it is not good for both",
        "If what we are doing is not pleasurable to both of us, we stop. Either of us can say so "
        "at any moment, and stopping is never a failure.",
    ),
    (
        "Stop and support when one of us is triggered",
        "When something happens and one of us is triggered into reactivity, we stop and support "
        "that person to go through the whole feeling, at their pace, before anything else.",
    ),
    (
        "Each of us owns our pleasure",
        "Each of us is fully responsible for our own pleasure: we ask for what we want and say "
        "clearly what we do not want, instead of waiting for the other to guess.",
    ),
    (
        "Safety comes from telling the truth",
        "Safety is the ground of our sexual and emotional connection, and we each create it by "
        'telling the truth, including "I want to stop" and "I feel angry because I didn\'t get '
        'what I wanted."',
    ),
    (
        "Tell the unarguable truth, also during sex",
        "Our sexual relationship is about our deepest connection. We practise telling the "
        "unarguable truth (what we sense, what we feel, what we want) throughout our "
        "relationship, and while we are being sexual.",
    ),
    (
        "Equals, with room for both voices",
        "We name the power differences between us and treat each other as equals, teammates and "
        "allies, so that there is always room for each of us to tell the truth.",
    ),
    (
        "We define what sex means to us",
        'We decide together what "sex" means for us. We are not bound by a definition that puts '
        "intercourse or orgasm first; we celebrate pleasure and each of us getting what we really "
        "want.",
    ),
    (
        "No pressure tactics",
        "We let go of behaviour meant to get the other to do, or not do, what we want: outbursts "
        "of anger, silence, withdrawal, storming off, going numb, collapsing, criticising "
        "ourselves or each other, or taking part passively.",
    ),
    (
        "No threats to end the relationship",
        "Threats to end the relationship cast a shadow of conditionality over our whole sexual "
        "life and make real connection impossible. We do not make them; we work things out "
        "together.",
    ),
]
