"""In your own language (issue 25, phase 1): the catalogues are complete, the browser's wish
chooses the language without changing any address, and <html lang dir> follows it.

The catalogues are compiled the way the setup compiles them (compilemessages, as `make test`,
the image and CI do), so that this module also passes when pytest is run on its own."""

import os
import re
import shutil
import subprocess
import sys
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


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


# -- phase 2: no English left ------------------------------------------------------------------

PRODUCT = "Rules of the Road"
LANGUAGE_NAMES = {name for _code, name in settings.LANGUAGES}
# A word of English shape that is also the word of the language (glossary: "check-in" stays).
SAME_IN = {
    "es": {"Check-in", "Check-ins", "check-in", "check-ins"},
    "de": {"Check-in", "Check-ins", "Code", "optional"},  # allauth's "Code", "(optional)"
    "he": set(),
}
# Attributes whose values a person reads or hears (a screen reader reads aria-label).
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
# Words of English shape, hyphenated ones whole ("Check-in" is one word of the glossary).
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z]+)*")
TIME_ZONES = zoneinfo.available_timezones()


class VisibleText(HTMLParser):
    """The text a person reads on a page, piece by piece (a text node, a title, a label), leaving
    out what a person wrote: every element with dir="auto" and everything inside it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.pieces: list[str] = []

    def hidden(self) -> bool:
        return any(hides for _tag, hides in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        hides = attrs.get("dir") == "auto" or tag in ("script", "style", "template")
        if not (hides or self.hidden()):
            for name in READ_ATTRIBUTES & attrs.keys():
                self.add(attrs[name] or "")
            if tag == "input" and attrs.get("type") in ("submit", "button", "reset"):
                self.add(attrs.get("value") or "")
        if tag not in VOID:
            self.stack.append((tag, hides))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if not self.hidden():
            self.add(data)

    def add(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.pieces.append(text)


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return parser.pieces


def words_people_wrote() -> list[str]:
    """Every free text stored by the apps (names, emails, rule wording, notes, comments, labels,
    time zones), longest first: allowed anywhere, in any language, as people wrote it."""
    from django.apps import apps
    from django.db import models

    found = set()
    for label in ("accounts", "agreements", "checkins"):
        for model in apps.get_app_config(label).get_models():
            fields = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, models.CharField | models.TextField) and not f.choices
            ]
            for row in model.objects.values_list(*fields) if fields else []:
                found.update(value.strip() for value in row if value and value.strip())
    return sorted(found, key=len, reverse=True)


def is_time_zone(piece: str) -> bool:
    """A time zone's name ("Europe/Berlin", "America/New York" as the Settings list shows it)."""
    return piece.replace(" ", "_") in TIME_ZONES


def english_left(piece: str, english: set[str], code: str, written: list[str]) -> bool:
    """True when this piece of a page in `code` is English: the same text is on the English
    rendering of the page, and once names, what people wrote, the product's name, addresses,
    numbers and dates are taken out, words of English shape remain."""
    if piece not in english or piece in SAME_IN[code] or is_time_zone(piece):
        return False
    if piece in LANGUAGE_NAMES:  # the language chooser names each language in its own words
        return False
    rest = piece.replace(PRODUCT, " ")
    for text in written:
        if text in rest:
            rest = rest.replace(text, " ")
    rest = re.sub(r"\S+@\S+|https?://\S+|/\S*", " ", rest)
    return any(word not in SAME_IN[code] for word in ENGLISH_WORD.findall(rest))


def pages_in(code: str, world, settings) -> dict[str, str]:
    """Every whole page of the URL matrix (tests/html_pages.py's set) as a browser asking for
    `code` gets it: the same world, every role, allauth's pages, the error pages, and the first
    minute's invitation pages."""
    from accounts import linking
    from tests.conftest import make_user
    from tests.security_world import every_page

    settings.LANGUAGE_CODE = code  # also the language of a client that asks for nothing
    for client in world.clients.values():
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = code
    pages = {label: response for label, response in every_page(world)}
    inviter = make_user(f"ines-{code}@example.org", "Ines")
    invitation = linking.create_invitation(inviter=inviter)
    stranger = Client(HTTP_ACCEPT_LANGUAGE=code)
    pages["invitation signed out"] = stranger.get(invitation.get_absolute_url())
    token = stranger.cookies["csrftoken"].value
    pages["invitation declined, signed out"] = stranger.post(
        invitation.get_absolute_url(), {"choice": "decline", "csrfmiddlewaretoken": token}
    )
    ines = client_for(inviter)
    ines.defaults["HTTP_ACCEPT_LANGUAGE"] = code
    pages["home after a decline"] = ines.get("/")
    pages["agreement alone after a decline"] = ines.get("/agreement/")
    return {
        label: response.content.decode()
        for label, response in pages.items()
        if "text/html" in response.get("Content-Type", "")
        and response.content.decode().lstrip().lower().startswith("<!doctype html>")
    }


def test_no_english_sentence_is_left_on_any_page_in_spanish_german_or_hebrew(settings):
    """Every page of the URL matrix in es, de and he, against its English rendering: a piece of
    text (a text node, a title, an aria-label, a button's value) that reads the same as on the
    English page is English left, unless it is what a person wrote (dir="auto", or stored
    text: names, rule wording, notes), the product's name, an address, a number or a date."""
    from tests.security_world import build_world

    world = build_world()
    english = {
        label: set(visible_text(html)) for label, html in pages_in("en", world, settings).items()
    }
    assert len(english) > 100
    written = words_people_wrote()
    left: dict[str, list[str]] = {}
    for code in TRANSLATED:
        pages = pages_in(code, world, settings)
        assert pages.keys() == english.keys(), code
        for label, html in pages.items():
            found = [
                piece
                for piece in dict.fromkeys(visible_text(html))
                if english_left(piece, english[label], code, written)
            ]
            if found:
                left[f"[{code}] {label}"] = found
    assert not left, f"English left on {len(left)} pages:\n{english_left_report(left)}"


def english_left_report(left: dict[str, list[str]], *, common: int = 10) -> str:
    """Page → sentences; a sentence left on more than `common` pages (the header, the footer)
    is listed once, first, with its number of pages, and not repeated under each page."""
    pages_of: dict[str, int] = {}
    for sentences in left.values():
        for sentence in sentences:
            pages_of[sentence] = pages_of.get(sentence, 0) + 1
    shared = {sentence for sentence, count in pages_of.items() if count > common}
    lines = [f"On more than {common} pages:"] if shared else []
    lines += [f"    {sentence!r} ({pages_of[sentence]} pages)" for sentence in sorted(shared)]
    for page, sentences in sorted(left.items()):
        own = [sentence for sentence in sentences if sentence not in shared]
        if own:
            lines.append(f"{page}:")
            lines += [f"    {sentence!r}" for sentence in own]
    return "\n".join(lines)


def test_the_english_left_check_finds_english_and_allows_what_people_wrote():
    english_page = (
        '<html lang="en"><head><title>Settings · Rules of the Road</title></head><body>'
        '<a href="/">Rules of the Road</a><nav aria-label="Main"><a href="/s/">Settings</a></nav>'
        '<h1>Agreement</h1><p dir="auto">Only at home</p><p>Alice</p><p>12</p>'
        "<button>Check-ins</button></body></html>"
    )
    spanish_page = (
        '<html lang="es"><head><title>Settings · Rules of the Road</title></head><body>'
        '<a href="/">Rules of the Road</a><nav aria-label="Main"><a href="/s/">Ajustes</a></nav>'
        '<h1>Acuerdo</h1><p dir="auto">Only at home</p><p>Alice</p><p>12</p>'
        "<button>Check-ins</button></body></html>"
    )
    english = set(visible_text(english_page))
    found = [
        piece
        for piece in visible_text(spanish_page)
        if english_left(piece, english, "es", ["Alice"])
    ]
    assert found == ["Settings · Rules of the Road", "Main"]
    assert not english_left("Europe/Berlin", {"Europe/Berlin"}, "de", [])
    assert not english_left("America/New York", {"America/New York"}, "he", [])
    assert not english_left("(optional)", {"(optional)"}, "de", [])
    assert english_left("(optional)", {"(optional)"}, "es", [])
    assert english_left("Monday 7 December", {"Monday 7 December"}, "es", [])
    report = english_left_report(
        {f"[es] page {n}": ["Log out", f"Only here {n}"] for n in range(12)}
    )
    assert report.startswith("On more than 10 pages:\n    'Log out' (12 pages)\n[es] page 0:\n")
    assert "    'Only here 11'" in report and report.count("Log out") == 1


def test_every_string_in_the_source_is_in_every_catalogue(tmp_path):
    """makemessages, run on a copy of the source (the working tree is left alone), finds no
    msgid that a catalogue lacks: a string wrapped without updating the catalogues fails here."""
    root = Path(settings.BASE_DIR)
    copy = tmp_path / "src"
    shutil.copytree(
        root,
        copy,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "var",
            "node_modules",
            "static",
            "bench",
            "locale",
            "*.mo",
            "__pycache__",
        ),
    )
    (copy / "locale").mkdir()
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "-e", "html,txt,py"]
        + ["--ignore", "tests/*", "--ignore", "scripts/*", "--ignore", "docs/*"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_DEBUG": "true"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    fresh = copy / "locale" / "es" / "LC_MESSAGES" / "django.po"
    wanted = msgids(fresh.read_text())
    assert len(wanted) > 500
    missing = {
        code: sorted(wanted - msgids((LOCALE / code / "LC_MESSAGES" / "django.po").read_text()))
        for code in TRANSLATED
    }
    missing = {code: ids for code, ids in missing.items() if ids}
    report = "\n".join(
        f"{code}: {len(ids)} missing\n" + "\n".join(f"    {msgid!r}" for msgid in ids)
        for code, ids in missing.items()
    )
    assert not missing, (
        f"Strings in the source but not in the catalogues (run makemessages):\n{report}"
    )


def msgids(po: str) -> set[tuple[str, str]]:
    """(context, msgid) of every live entry of a catalogue (obsolete "#~" entries left out)."""
    found = set()
    for entry in po.split("\n\n"):
        lines = [line for line in entry.splitlines() if not line.startswith("#")]
        text = "\n".join(lines)
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', text, re.M)
        if not msgid:
            continue
        context = re.search(r'^msgctxt ((?:".*"\n?)+)', text, re.M)

        def joined(match) -> str:
            if not match:
                return ""
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
            return "".join(parts)

        if joined(msgid):
            found.add((joined(context), joined(msgid)))
    return found


def test_app_js_sentences_come_from_the_page_in_its_language(client):
    """app.js shows three sentences of its own (a failed action, a failed connection, the quick
    exit's tab title): base.html gives them to it translated, and in English exactly the words
    app.js falls back to."""
    script = (Path(settings.BASE_DIR) / "static" / "js" / "app.js").read_text()
    english = client.get("/").content.decode()
    spanish = client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    hebrew = client.get("/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    for name in ("exit-title", "failed-server", "failed-connection"):
        said = re.search(rf'id="js-messages"[^>]* data-{name}="([^"]+)"', english).group(1)
        assert f'message("{name}", "{said}")' in script, name
    assert 'data-failed-connection="Falló la conexión, así que no se envió' in spanish
    assert 'data-exit-title="כרטיסייה חדשה"' in hebrew
