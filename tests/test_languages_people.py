"""In your own language (issue 25, phase 2): each person's own language, for their pages and for
the emails they receive whoever caused them; the nine defaults start in the inviter's language
and never change language by themselves; what a person wrote carries dir="auto"."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts import linking
from accounts.models import User
from agreements import consent, people
from agreements.defaults import DEFAULT_RULES
from agreements.models import Rule
from tests.conftest import (
    PASSWORD,
    agreement_of,
    client_for,
    fresh,
    grant_therapist,
    link,
    rules_of,
    settings_refused,
)

pytestmark = pytest.mark.django_db

SPANISH_FIRST_TITLE = "Parar cuando no es bueno para los dos"
GERMAN_FIRST_TITLE = "Aufhören, wenn es nicht für beide gut ist"


def speaks(user: User, language: str) -> User:
    people.set_language(user=user, language=language)
    user.refresh_from_db()
    return user


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


# -- what a page says back ------------------------------------------------------------------------


def test_what_a_page_says_back_is_in_the_language_of_who_reads_it(alice, bob, dana_2fa):
    """A message made when the module was imported would be in the language of whatever request
    imported it first: each is made for the request that says it."""
    invited = client_for(speaks(alice, "de")).post(
        reverse("accounts:invite"), {"email": "not an address"}, follow=True
    )
    assert "Diese E-Mail-Adresse sieht nicht richtig aus." in invited.content.decode()

    seats = link(alice, bob)
    grant_therapist(seats, speaks(dana_2fa, "es"))
    suggested = client_for(dana_2fa).post(
        reverse("therapist:suggest_rule", args=[agreement_of(seats[0]).pk]),
        {"suggest-title": "Té", "suggest-text": "Hacemos té.", "suggest-note": ""},
        follow=True,
    )
    assert "Tu sugerencia está con la pareja." in suggested.content.decode()


# -- emails in the recipient's language ----------------------------------------------------------


def test_bob_reads_german_when_alice_in_english_updates_the_agreement(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    speaks(bob, "de")
    link(alice, bob)
    client = client_for(alice)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("agreements:new_rule"),
            {"title": "Tea after", "text": "We make tea after."},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code in (200, 302)
    [message] = [m for m in mailoutbox if m.to == [bob.email]]
    assert message.subject == "Es gibt eine Neuigkeit auf Rules of the Road"
    assert "Hallo Bob," in message.body
    assert "Dein:e Partner:in hat eure gemeinsame Vereinbarung" in " ".join(message.body.split())
    assert "Your partner" not in message.body and "Hello" not in message.body


def test_alice_reads_english_when_bob_in_german_updates_the_agreement(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    speaks(bob, "de")
    link(alice, bob)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(bob).post(
            reverse("agreements:new_rule"), {"title": "Tee danach", "text": "Wir machen Tee."}
        )
    [message] = [m for m in mailoutbox if m.to == [alice.email]]
    assert message.subject == "You have an update on Rules of the Road"
    assert "Hello Alice," in message.body


def test_the_partnership_ended_email_is_in_the_recipients_language(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    speaks(bob, "es")
    link(alice, bob)
    mailoutbox.clear()
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        linking.end_partnership(user=alice)
    [message] = [m for m in mailoutbox if m.to == [bob.email]]
    assert "Hola, Bob:" in message.body
    assert "Hello" not in message.body


def test_a_person_without_a_language_gets_the_sites_whatever_the_actors_page_was(
    alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    speaks(alice, "he")
    link(alice, bob)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(reverse("agreements:new_rule"), {"title": "תה", "text": "אחרי, תה."})
    [message] = [m for m in mailoutbox if m.to == [bob.email]]
    assert message.subject == "You have an update on Rules of the Road"


def test_allauths_emails_are_in_the_accounts_language(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    speaks(alice, "de")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            reverse("account_reset_password"),
            {"email": alice.email},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    [message] = [m for m in mailoutbox if m.to == [alice.email]]
    # Our override of allauth's subject, in her language though the page asking was English.
    assert message.subject == "Rules of the Road: Wähle ein neues Passwort"


# -- the nine defaults in the inviter's language ----------------------------------------------------


def titles(seat) -> list[str]:
    return [r.latest_version.title for r in Rule.objects.filter(agreement=agreement_of(seat))]


def test_the_nine_defaults_start_in_the_inviters_language(alice, bob):
    speaks(alice, "es")
    speaks(bob, "de")
    seats = link(alice, bob)  # alice invites, bob accepts (from his German page)
    assert len(titles(seats[0])) == len(DEFAULT_RULES) == 9
    assert titles(seats[0])[0] == SPANISH_FIRST_TITLE
    with translation.override("es"):
        from agreements.defaults import in_active_language

        assert titles(seats[0]) == [title for title, _ in in_active_language()]


def test_the_acceptors_language_does_not_choose_the_defaults(alice, bob):
    speaks(bob, "de")
    invitation = linking.create_invitation(inviter=bob)
    with translation.override("es"):  # alice's browser asks for Spanish
        couple = linking.accept_invitation(token=invitation.token, user=alice)
    seat = couple.partners.get(user=bob)
    assert titles(seat)[0] == GERMAN_FIRST_TITLE


def test_an_inviter_without_a_language_starts_in_english(alice, bob):
    speaks(bob, "he")
    seats = link(alice, bob)
    assert titles(seats[0]) == [title for title, _ in DEFAULT_RULES]


def test_every_default_is_translated_in_every_language():
    from agreements.defaults import in_active_language

    for code in ("es", "de", "he"):
        with translation.override(code):
            translated = in_active_language()
        for (title, text), (english_title, english_text) in zip(
            translated, DEFAULT_RULES, strict=True
        ):
            assert title != english_title and text != english_text, (code, english_title)


def test_the_wording_never_changes_language_by_itself(alice, bob):
    speaks(alice, "es")
    seats = link(alice, bob)
    speaks(alice, "en")  # she now reads the app in English
    rule = rules_of(seats[0])[0]
    consent.accept(partner=seats[0], rule=rule, version_id=fresh(rule).pending_version_id)
    consent.accept(partner=seats[1], rule=rule, version_id=fresh(rule).pending_version_id)
    assert fresh(rule).current_version.title == SPANISH_FIRST_TITLE
    page = client_for(alice).get(reverse("agreements:agreement")).content.decode()
    assert SPANISH_FIRST_TITLE in page and html_lang(page) == "en"


# -- the setting, on Settings and at sign-up ---------------------------------------------------------


def language_after_saving_settings(client, user: User, language: str | None) -> str:
    """Alice saves Settings choosing `language` (None: a form without the field); the language
    she has then."""
    form = {"display_name": "Alice", "partner_update_emails": "on"}
    if language is not None:
        form["language"] = language
    response = client.post(reverse("accounts:settings"), form)
    assert response.status_code == 302
    return User.objects.get(pk=user.pk).language


def test_settings_offer_the_language_and_the_next_page_follows_it(alice):
    client = client_for(alice)
    page = client.get(reverse("accounts:settings")).content.decode()
    assert re.search(r'<select name="language"[^>]*>', page)
    assert '<option value="de">Deutsch</option>' in page
    assert language_after_saving_settings(client, alice, "de") == "de"
    # The person's setting wins over the browser's wish.
    page = client.get(reverse("accounts:settings"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html_lang(page) == "de"
    assert "Einstellungen" in page
    assert '<option value="de" selected>Deutsch</option>' in page


def test_an_unknown_language_in_settings_says_so_and_loses_nothing(alice):
    speaks(alice, "es")
    page = settings_refused(
        alice,
        {"display_name": "Alicia", "partner_update_emails": "", "language": "fr"},
        kept={"language": "es", "display_name": "Alice", "partner_update_emails": True},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # In her own language (Spanish), the clear message, and what she typed is still there.
    with translation.override("es"):
        from accounts.forms import LANGUAGE_MESSAGE

        message = str(LANGUAGE_MESSAGE)
    assert message != "Choose one of the languages in the list."
    assert message in page


def test_choosing_the_browsers_language_again_follows_the_browser(alice):
    speaks(alice, "de")
    client = client_for(alice)
    assert language_after_saving_settings(client, alice, "") == ""
    page = client.get(reverse("accounts:settings"), HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert html_lang(page) == "he"


def test_a_settings_form_without_the_language_keeps_it(alice):
    speaks(alice, "he")
    assert language_after_saving_settings(client_for(alice), alice, None) == "he"


def test_the_service_refuses_an_unknown_language(alice):
    speaks(alice, "de")
    with pytest.raises(ValidationError):
        people.save_settings(
            user=alice, display_name="Alice", partner_update_emails=True, language="xx"
        )
    assert User.objects.get(pk=alice.pk).language == "de"


def sign_up_data(**extra) -> dict:
    return {
        "display_name": "Sam",
        "email": "sam@example.com",
        "password1": PASSWORD,
        "account_type": "partner",
        "practice_name": "",
        **extra,
    }


def test_the_sign_up_page_offers_the_language_the_browser_asks_for():
    page = Client().get(reverse("account_signup"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert re.search(r'<select name="language"[^>]*>', page)
    assert '<option value="es" selected>Español</option>' in page


def test_sign_up_keeps_the_chosen_language():
    response = Client().post(reverse("account_signup"), sign_up_data(language="he"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(email="sam@example.com").language == "he"


def test_sign_up_with_an_unknown_language_says_so_and_loses_nothing():
    response = Client().post(
        reverse("account_signup"), sign_up_data(language="klingon"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose one of the languages in the list." in page
    assert 'value="Sam"' in page and 'value="sam@example.com"' in page
    assert not User.objects.filter(email="sam@example.com").exists()


# -- two partners, two languages, one agreement -------------------------------------------------------


def test_bob_sees_german_pages_while_alice_sees_english_ones_on_the_same_agreement(alice, bob):
    speaks(bob, "de")
    seats = link(alice, bob)
    consent.propose_rule(partner=seats[0], agreement=agreement_of(seats[0]), title="T", text="x")
    alices = client_for(alice).get(reverse("agreements:agreement")).content.decode()
    bobs = client_for(bob).get(reverse("agreements:agreement")).content.decode()
    assert html_lang(alices) == "en" and html_lang(bobs) == "de"
    # The same agreement, the same English wording (alice invited), two languages around it.
    first = DEFAULT_RULES[0][0]
    assert first in alices and first in bobs
    not_yet = "Not yet"
    with translation.override("de"):
        german_not_yet = translation.pgettext("answer", not_yet)
    assert german_not_yet != not_yet
    assert f">{german_not_yet}</button>" in bobs and f">{not_yet}</button>" in alices
    assert f">{not_yet}</button>" not in bobs and german_not_yet not in alices
    # data-* values are the same in both languages.
    assert re.findall(r'data-action="[^"]*"', alices) == re.findall(r'data-action="[^"]*"', bobs)


def test_each_reader_reads_the_days_in_the_order_of_their_language(alice, bob):
    """A day is written as the reader's language writes it ("7. Dezember 2026", "7 de
    diciembre de 2026"), not in the English order with translated month names."""
    link(alice, bob)
    made_on = timezone.localdate()  # the printable page says when it was made
    expected = {}
    for code in ("en", "de", "es"):
        with translation.override(code):
            expected[code] = formats.date_format(made_on, translation.gettext("j F Y"))
    assert expected["en"] == f"{made_on.day} {made_on:%B %Y}"
    assert expected["de"].startswith(f"{made_on.day}. ")
    assert f"{made_on.day} de " in expected["es"]
    for code, person in (("en", alice), ("de", speaks(bob, "de"))):
        printed = client_for(person).get(reverse("agreements:print")).content.decode()
        assert expected[code] in printed, code
    speaks(bob, "es")
    printed = client_for(bob).get(reverse("agreements:print")).content.decode()
    assert expected["es"] in printed


# -- what a person wrote carries dir="auto" ------------------------------------------------------------


def test_what_a_person_wrote_carries_dir_auto_on_the_agreement_and_the_printable_page(alice, bob):
    seats = link(alice, bob)
    rule = consent.propose_rule(
        partner=seats[0],
        agreement=agreement_of(seats[0]),
        title="שקט בבוקר",
        text="בבקרים של שבת אנחנו לוקחים את הזמן!",
        note="הערה קטנה!",
    )
    consent.accept(partner=seats[1], rule=rule, version_id=fresh(rule).pending_version_id)
    page = client_for(bob).get(reverse("agreements:agreement")).content.decode()
    for words in ("שקט בבוקר", "בבקרים של שבת אנחנו לוקחים את הזמן!"):
        assert re.search(r'<[^>]*dir="auto"[^>]*>\s*' + re.escape(words), page), words
    printed = client_for(bob).get(reverse("agreements:print")).content.decode()
    assert re.search(r'<html lang="en" dir="ltr"', printed)


# -- the demo: one couple in two languages, one couple in Spanish ----------------------------------


def test_seed_demo_gives_bob_german_and_a_spanish_couple_an_agreement_in_spanish(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())  # idempotent
    languages = dict(User.objects.values_list("email", "language"))
    assert languages["bob@example.com"] == "de" and languages["alice@example.com"] == ""
    assert languages["lucia@example.com"] == languages["mateo@example.com"] == "es"
    lucia = User.objects.get(email="lucia@example.com")
    seat = lucia.current_partner_seat()
    assert seat.couple.partners.filter(user__email="mateo@example.com").exists()
    assert titles(seat)[0] == SPANISH_FIRST_TITLE
    assert Rule.objects.filter(agreement=agreement_of(seat), state="active").count() == 3
    alice = User.objects.get(email="alice@example.com")
    assert titles(alice.current_partner_seat())[0] == DEFAULT_RULES[0][0]  # alice invited
    assert "lucia@example.com" in out.getvalue()
    password = re.search(r"^password: (\S+)$", out.getvalue(), re.M).group(1)
    client = Client()
    assert (
        client.post(
            reverse("account_login"), {"login": "mateo@example.com", "password": password}
        ).status_code
        == 302
    )
    page = client.get(reverse("agreements:agreement")).content.decode()
    assert html_lang(page) == "es" and SPANISH_FIRST_TITLE in page
