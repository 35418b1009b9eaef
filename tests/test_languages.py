"""In your own language (issue 25, phase 1): the catalogues are complete, the browser's wish
chooses the language without changing any address, and <html lang dir> follows it.

The catalogues are compiled the way the setup compiles them (compilemessages, as `make test`,
the image and CI do), so that this module also passes when pytest is run on its own."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """The .mo files are built, never committed: build any that is missing or older than its .po."""
    stale = [
        po
        for po in LOCALE.glob("*/LC_MESSAGES/*.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        call_command(
            "compilemessages",
            locale=sorted({po.parts[-3] for po in stale}),
            ignore_patterns=[".venv", "var", "node_modules", "static"],
            verbosity=0,
        )
    from django.utils import translation

    translation.trans_real._translations = {}  # the catalogues just built are read afresh
    translation.trans_real._active = translation.trans_real.Local()


def statistics(po: Path) -> str:
    """GNU msgfmt's own count of translated, fuzzy and untranslated entries (and format check)."""
    done = subprocess.run(
        [shutil.which("msgfmt") or "msgfmt", "--check-format", "--statistics", "-o", "/dev/null"]
        + [str(po)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.strip()


def html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.content.decode()).group()


def test_every_language_but_english_has_a_catalogue():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "es", "de", "he"]
    for code in TRANSLATED:
        assert (LOCALE / code / "LC_MESSAGES" / "django.po").exists(), code


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_catalogue_has_no_untranslated_or_fuzzy_entry(code):
    for po in (LOCALE / code / "LC_MESSAGES").glob("*.po"):
        counts = statistics(po)
        assert re.fullmatch(r"\d+ translated messages?\.", counts), f"{po}: {counts}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_catalogue_starts_with_the_glossary_of_the_consent_vocabulary(code):
    header = (LOCALE / code / "LC_MESSAGES" / "django.po").read_text().split('msgid ""')[0]
    for word in ("Accept", "Not yet", "Decline", "Withdraw", "Pause everything", "Reopen"):
        assert f"#   {word}" in header, (code, word)
    for word in ("in force", "resting", "sealed", "check-in", "therapist access"):
        assert f"#   {word}" in header, (code, word)


def test_hebrew_has_its_own_plural_forms():
    po = (LOCALE / "he" / "LC_MESSAGES" / "django.po").read_text()
    assert '"Plural-Forms: nplurals=3;' in po
    plural = po.split('msgid_plural "%(news)s updates"')[1].split("\n\n")[0]
    assert plural.count("msgstr[") == 3


@pytest.mark.parametrize(
    "accept_language, lang, direction",
    [
        ("", "en", "ltr"),
        ("es", "es", "ltr"),
        ("de-DE,de;q=0.9,en;q=0.5", "de", "ltr"),
        ("he", "he", "rtl"),
        ("he-IL,he;q=0.9", "he", "rtl"),
        ("fr-FR,fr;q=0.9", "en", "ltr"),
    ],
)
def test_html_lang_and_dir_follow_the_browsers_wish(client, accept_language, lang, direction):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.status_code == 200
    assert html_tag(response) == f'<html lang="{lang}" dir="{direction}">'


def test_addresses_carry_no_language(client):
    assert reverse("home") == "/"
    assert reverse("account_login") == "/accounts/login/"
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200  # no redirect to /es/…
    assert client.get("/es/", HTTP_ACCEPT_LANGUAGE="es").status_code == 404


def test_the_welcome_page_speaks_spanish_to_a_spanish_browser(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Crear una cuenta" in page
    assert "Create an account" not in page
    assert "Las nueve reglas con las que empezáis" in page
    english = client.get("/").content.decode()
    assert "Create an account" in english


def test_the_home_page_speaks_each_persons_browser_language(alice):
    client = client_for(alice)
    spanish = client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Invita a tu pareja" in spanish
    assert "Invite your partner" not in spanish
    german = client.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Lade dein:e Partner:in ein" in german
    hebrew = client.get("/", HTTP_ACCEPT_LANGUAGE="he")
    assert html_tag(hebrew) == '<html lang="he" dir="rtl">'
    assert "הזמנת בן או בת הזוג" in hebrew.content.decode()


def test_the_log_in_page_speaks_german_and_keeps_its_form(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Auf diesem Gerät angemeldet bleiben" in page
    assert 'id="passkey_login"' in page or "Anmelden" in page
    assert 'name="login"' in page and 'name="password"' in page


def test_data_attributes_keep_their_english_values_in_every_language(alice):
    client = client_for(alice)
    client.post(reverse("accounts:invite"), {"email": ""})
    for code in ["en", *TRANSLATED]:
        page = client.get("/", HTTP_ACCEPT_LANGUAGE=code).content.decode()
        assert 'data-copy-button="invitation-link"' in page, code
        assert 'data-share-button="invitation-link"' in page, code


def test_a_plural_follows_the_language(client):
    from django.utils import translation

    with translation.override("he"):
        forms = [
            translation.ngettext("%(news)s update", "%(news)s updates", n) % {"news": n}
            for n in (1, 2, 5)
        ]
    assert forms == ["עדכון אחד", "שני עדכונים", "5 עדכונים"]
    with translation.override("de"):
        assert translation.ngettext("%(news)s update", "%(news)s updates", 1) % {"news": 1} == (
            "1 Neuigkeit"
        )


def test_what_a_person_wrote_carries_dir_auto_and_is_never_translated(alice_client, couple):
    from agreements import consent
    from tests.conftest import both_accept, rules_of

    alice, bob = couple
    rule = both_accept(rules_of(alice)[6], alice, bob)
    hebrew_wording = "כל מה ששנינו קוראים לו כך!"
    consent.propose_change(partner=bob, rule=rule, title="הגדרה משלנו", text=hebrew_wording)
    url = reverse("agreements:history", args=[rule.pk])
    for code in ("en", "es", "he"):
        page = alice_client.get(url, HTTP_ACCEPT_LANGUAGE=code).content.decode()
        # The wording in force and the proposed change, each in an element that finds its own
        # direction: the Hebrew "!" is drawn at the end of a Hebrew sentence in an English page.
        assert re.search(r'<p class="wording" dir="auto">[^<]', page), code
        assert re.search(r'<p class="diff" dir="auto">', page), code
        assert "קוראים" in page, code
        assert re.search(r'<h1>[^<]+: <span dir="auto">', page), code  # the rule's title
    spanish = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Volver al acuerdo" in spanish and "Back to the agreement" not in spanish


def test_every_page_in_hebrew_is_right_to_left_and_passes_the_nu_html_checker(settings, tmp_path):
    """Every page of tests/html_pages.py, for a browser that asks for nothing (so the default
    language, here Hebrew, is the one LocaleMiddleware picks), through vnu in one run."""
    import json

    from tests.html_pages import full_pages
    from tests.test_html_valid import vnu_jar

    settings.LANGUAGE_CODE = "he"
    pages = full_pages()
    assert len(pages) > 100
    # The printable page has its own <html> (templates/agreements/print.html): phase 2.
    not_rtl = [
        label
        for label, html in pages
        if '<html lang="he" dir="rtl">' not in html and "print" not in label
    ]
    assert not_rtl == []
    names = {}
    for number, (label, html) in enumerate(pages):
        (tmp_path / f"page-{number:04d}.html").write_text(html)
        names[f"page-{number:04d}.html"] = label
    java = shutil.which("java")
    assert java, "Java is needed to run vnu (.ci/run installs default-jre-headless)"
    result = subprocess.run(
        [java, "-Xss2m", "-jar", str(vnu_jar()), "--errors-only", "--format", "json"]
        + ["--skip-non-html", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{names.get(Path(m.get('url', '')).name)}: {m['message']}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert errors == []
