"""In your own language (issue 25, phase 2): what Python says to a person (a service's refusal,
the ledger's sentences, a form's validation message, the export's headings) comes out in the
active language, as whole sentences with their own plurals, and stays byte-identical in English.
A person's own words (a rule's wording) are never translated.

The catalogues are compiled the way the setup compiles them (compilemessages), so that this
module also passes when pytest is run on its own."""

import html
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.html import strip_tags

from agreements import consent
from agreements.forms import WordingForm
from agreements.pages import ledger
from agreements.pages.agreement import not_in_force_sentence
from intimacy import privacy
from tests.conftest import both_accept, rules_of

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale"


def refusal(partner, rule) -> str:
    with pytest.raises(consent.ConsentError) as refused:
        consent.withdraw(partner=partner, rule=rule)
    return refused.value.message


def test_a_refusal_is_said_in_the_language_active_when_it_is_raised(couple):
    alice, _bob = couple
    rule = rules_of(alice)[0]  # proposed, not in force: there is no consent to withdraw
    said = {}
    for code in ("en", "es", "de", "he"):
        with translation.override(code):
            said[code] = refusal(alice, rule)
    assert said == {
        "en": "This rule is not in force, so there is no consent to withdraw.",
        "es": "Esta regla no está en vigor, así que no hay consentimiento que retirar.",
        "de": "Diese Regel ist nicht in Kraft, es gibt also keine Zustimmung zum Zurückziehen.",
        "he": "הכלל הזה לא בתוקף, ולכן אין הסכמה לחזור ממנה.",
    }


def test_a_refusal_named_at_import_follows_the_language_of_each_request(couple):
    """ARCHIVED_AGREEMENT and OWN_PROPOSAL are module constants: lazy, never frozen in English."""
    with translation.override("de"):
        assert str(consent.OWN_PROPOSAL) == (
            "Das ist dein eigener Vorschlag: Du kannst ihn stattdessen zurücknehmen."
        )
    with translation.override("en"):
        assert str(consent.OWN_PROPOSAL) == (
            "This is your own proposal: you can take it back instead."
        )


def test_the_rules_not_in_force_are_whole_sentences_with_each_languages_plurals():
    states = {3: "paused", 8: "paused", 10: "proposed", 12: "declined"}
    told = {}
    for code in ("en", "es", "de", "he"):
        with translation.override(code):
            told[code] = not_in_force_sentence(states)
    assert told == {
        "en": "Rules 3 and 8 are resting. Rule 10 waits for an answer. Rule 12 was not agreed.",
        "es": (
            "Las reglas 3 y 8 están en reposo. La regla 10 espera una respuesta. "
            "La regla 12 no se acordó."
        ),
        "de": (
            "Regeln 3 und 8 ruhen. Regel 10 wartet auf eine Antwort. "
            "Regel 12 wurde nicht vereinbart."
        ),
        "he": "כללים 3 ו8 במנוחה. כלל 10 ממתין לתשובה. על כלל 12 לא הוסכם.",
    }


def timeline_lines(agreement, seat) -> list[str]:
    """The timeline's sentences as markup (names and titles isolated in <bdi>)."""
    days = ledger.timeline_page(agreement, ledger.Viewer("partner", seat))["days"]
    return [line.text for day in days for line in day.lines]


def timeline_texts(agreement, seat) -> list[str]:
    """The same sentences as a reader reads them."""
    return [html.unescape(strip_tags(line)) for line in timeline_lines(agreement, seat)]


def test_the_timeline_tells_you_and_your_partner_each_in_their_own_grammar(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    both_accept(rule, alice, bob)
    agreement = rule.agreement
    wording = rule.latest_version.title
    with translation.override("en"):
        english = timeline_texts(agreement, alice)
    with translation.override("es"):
        spanish = timeline_texts(agreement, alice)
    with translation.override("de"):
        german = timeline_texts(agreement, bob)
    with translation.override("he"):
        hebrew = timeline_texts(agreement, alice)
    assert f"You accepted rule 1 “{wording}”." in english
    assert f"Bob accepted rule 1 “{wording}”, so it is now in force." in english
    assert f"Aceptaste regla 1 «{wording}»." in spanish
    assert f"Bob aceptó regla 1 «{wording}», así que ya está en vigor." in spanish
    assert f"Alice hat Regel 1 „{wording}“ angenommen." in german
    assert f"Du hast Regel 1 „{wording}“ angenommen, damit ist sie jetzt in Kraft." in german
    assert f"קיבלת את כלל 1 “{wording}”." in hebrew
    # The names and titles in them are isolated: each keeps its own direction.
    with translation.override("he"):
        marked = timeline_lines(agreement, alice)
    assert f"<bdi>Bob</bdi> קיבל/ה את כלל 1 “<bdi>{wording}</bdi>”" in marked[-1]
    # The agreement's start, told to the couple, in each language; no English left over.
    assert english[0] == (
        "The agreement started with nine proposed rules, none in force until you both accept it."
    )
    assert spanish[0].startswith("El acuerdo empezó con nueve reglas propuestas")
    assert not any("accepted" in text or "agreement" in text for text in spanish + german)


def test_a_day_of_the_timeline_is_named_in_the_language_of_the_reader():
    day, today = date(2026, 12, 7), date(2026, 12, 9)
    named = {}
    for code in ("en", "es", "de"):
        with translation.override(code):
            named[code] = ledger.day_label(day, today)
    assert named == {
        "en": "Monday 7 December",
        "es": "lunes 7 de diciembre",
        "de": "Montag, 7. Dezember",
    }
    with translation.override("en"):
        assert ledger.day_label(day, date(2027, 1, 2)) == "Monday 7 December 2026"


def test_a_form_says_what_is_missing_in_the_language_of_the_person_filling_it():
    said = {}
    for code in ("en", "es", "de", "he"):
        with translation.override(code):
            form = WordingForm(data={"text": "", "title": "", "note": ""})
            assert not form.is_valid()
            said[code] = (form.errors["text"][0], str(form.fields["title"].label))
    assert said == {
        "en": ("Write the wording of the rule: it cannot be empty.", "Short title (optional)"),
        "es": (
            "Escribe la redacción de la regla: no puede estar vacía.",
            "Título corto (opcional)",
        ),
        "de": (
            "Schreib den Wortlaut der Regel: Er darf nicht leer sein.",
            "Kurzer Titel (optional)",
        ),
        "he": ("צריך לכתוב את נוסח הכלל: הוא לא יכול להיות ריק.", "כותרת קצרה (רשות)"),
    }


def test_the_export_has_its_headings_translated_and_the_couples_words_untouched(couple):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    text = rule.current_version.text
    with translation.override("en"):
        english = privacy.export_markdown(alice.user)
    with translation.override("es"):
        spanish = privacy.export_markdown(alice.user)
    with translation.override("he"):
        hebrew = privacy.export_markdown(alice.user)
    assert english.startswith("# Rules of the Road: your data\n")
    assert "## Your account" in english and "### Rules in force" in english
    assert spanish.startswith("# Rules of the Road: tus datos\n")
    assert "## Tu cuenta" in spanish and "### Reglas en vigor" in spanish
    assert "## Your account" not in spanish and "### Timeline" not in spanish
    assert "## החשבון שלך" in hebrew and "### ציר הזמן" in hebrew
    # What the couple wrote is theirs, in their language, in every export.
    first_line = text.splitlines()[0]
    assert first_line[:40] in english and first_line[:40] in spanish and first_line[:40] in hebrew


def test_a_refusal_reaches_the_page_in_the_language_the_browser_asks_for(alice_client, couple):
    """The whole path production runs: LocaleMiddleware, the view, the service's refusal, the card."""
    rule = rules_of(couple[0])[0]
    url = reverse("agreements:withdraw", args=[rule.pk])
    said = {}
    for code in ("en", "es", "de", "he"):
        response = alice_client.post(url, {}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE=code)
        assert response.status_code == 409
        said[code] = html.unescape(response.content.decode())
    assert "This rule is not in force, so there is no consent to withdraw." in said["en"]
    assert "Esta regla no está en vigor, así que no hay consentimiento que retirar." in said["es"]
    assert (
        "Diese Regel ist nicht in Kraft, es gibt also keine Zustimmung zum Zurückziehen."
        in (said["de"])
    )
    assert "הכלל הזה לא בתוקף, ולכן אין הסכמה לחזור ממנה." in said["he"]
    for code in ("es", "de", "he"):
        assert "This rule is not in force" not in said[code]
        assert "In force" not in said[code] and "Waiting for you" not in said[code]
