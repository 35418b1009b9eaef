"""In your own language: a name or a title a person wrote keeps its own direction in our
sentences. A Hebrew name in an English page, and an English name in a Hebrew page, are isolated
(<bdi>, or dir="auto" on an element of their own) on the agreement page, the printable page and
the therapist's pages; the therapist access statement is read in each reader's language."""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import strip_tags

from accounts.models import User
from agreements import consent, people, therapy
from agreements.models import TherapistAccess
from agreements.stories import grant_therapist
from tests.conftest import agreement_of, client_for, reauthenticate, rules_of

pytestmark = pytest.mark.django_db

HEBREW_NAME = "נועה!"  # the "!" is what a missing isolation draws at the wrong end
ENGLISH_NAME = "Sam (Bob)"


def speaks(user: User, language: str, name: str | None = None) -> User:
    people.save_settings(
        user=user,
        display_name=name or user.display_name,
        partner_update_emails=user.partner_update_emails,
        language=language,
    )
    user.refresh_from_db()
    return user


def partners_line(html: str, css: str = "partners") -> str:
    return re.search(rf'<p class="{css}">(.*?)</p>', html, re.S).group(1)


def bdis(fragment: str) -> list[str]:
    return re.findall(r"<bdi>(.*?)</bdi>", fragment)


def signed_in_again(user: User):
    """The therapist access pages ask for the password again."""
    client = client_for(user)
    reauthenticate(client, user)
    return client


@pytest.fixture
def pages(couple, dana_2fa):
    """Alice proposes a rule (so her name is on its card); Dana has access to the agreement."""
    alice_seat, bob_seat = couple
    agreement = agreement_of(alice_seat)
    consent.propose_rule(
        partner=alice_seat, agreement=agreement, title="Tea afterwards", text="We make tea."
    )
    # Both said not yet to the first rule: both answers are shown, by name, on its card.
    first = rules_of(alice_seat)[0]
    consent.not_yet(partner=alice_seat, rule=first, version_id=first.pending_version_id)
    consent.not_yet(partner=bob_seat, rule=first, version_id=first.pending_version_id)
    grant_therapist(couple, dana_2fa)
    return agreement


@pytest.mark.parametrize(
    ("page_language", "alice_name", "bob_name"),
    [("en", HEBREW_NAME, "Bob"), ("he", "Alice", ENGLISH_NAME)],
    ids=["hebrew-name-in-english", "english-name-in-hebrew"],
)
def test_names_are_isolated_on_the_agreement_print_and_therapist_pages(
    pages, alice, bob, dana_2fa, page_language, alice_name, bob_name
):
    agreement = pages
    speaks(alice, "en", alice_name)
    speaks(bob, page_language, bob_name)
    speaks(dana_2fa, page_language)
    names = [alice_name, bob_name]
    bob_client, dana = client_for(bob), client_for(dana_2fa)

    page = bob_client.get(reverse("agreements:agreement")).content.decode()
    assert f'<html lang="{page_language}"' in page
    # "Between X and Y": both names isolated, nothing of them outside their <bdi>.
    line = partners_line(page)
    assert bdis(line) == names, line
    # "Proposed by X" on the card of the rule Alice proposed.
    proposed = re.search(r'<p class="proposed-by">(.*?)</p>', page, re.S).group(1)
    assert f"<bdi>{alice_name}</bdi>" in proposed, proposed
    # The answers on a card: Alice's, by name.
    answers = re.findall(r'<ul class="answers".*?</ul>', page, re.S)
    assert any(f"<bdi>{alice_name}</bdi>" in a for a in answers), answers

    printed = bob_client.get(reverse("agreements:print")).content.decode()
    line = partners_line(printed, "between")
    assert bdis(line) == names, line

    home = dana.get(reverse("therapist:home")).content.decode()
    assert f'<html lang="{page_language}"' in home
    heading = re.search(r'<h2 id="client-\d+"><a [^>]*>(.*?)</a>', home, re.S).group(1)
    assert bdis(heading) == names, heading

    couple_page = dana.get(reverse("therapist:couple", args=[agreement.pk])).content.decode()
    heading = re.search(r"<h1>(.*?)</h1>", couple_page, re.S).group(1)
    assert bdis(heading) == names, heading
    line = partners_line(couple_page)
    assert bdis(line) == names, line
    access = re.search(r'<p data-scope="history">(.*?)</p>', couple_page, re.S).group(1)
    assert bdis(access) == names, access
    # Its words around the names are the reader's language, not English's " and ".
    if page_language == "he":
        assert " and " not in strip_tags(access)


def test_a_name_is_escaped_inside_its_isolation(couple, alice, bob):
    speaks(alice, "en", "<b>Al</b> & co")
    page = client_for(bob).get(reverse("agreements:agreement")).content.decode()
    assert "<bdi>&lt;b&gt;Al&lt;/b&gt; &amp; co</bdi>" in partners_line(page)
    assert "<b>Al</b>" not in page


def test_the_statement_is_read_in_each_readers_language(couple, alice, bob, dana_2fa):
    """Alice asks in Spanish, Bob agrees in German: each of them, and the therapist's own
    export of it, reads the words that were agreed in their own language, as they stood then."""
    speaks(alice, "es")
    speaks(bob, "de")
    alice_seat, bob_seat = couple
    _, token = therapy.create_client_link(therapist=dana_2fa)
    with translation.override("es"):
        asked = therapy.ask_partner(partner=alice_seat, token=token, scope="history")
    assert asked.statements.keys() == {"en", "es", "de", "he"}
    # The one who takes the step keeps the words as they read them.
    assert asked.statement == asked.statements["es"]
    bob_client = signed_in_again(bob)
    consent_page = bob_client.get(reverse("agreements:therapist_request", args=[asked.pk]))
    assert asked.statements["de"] in consent_page.content.decode().replace("&#x27;", "'")
    with translation.override("de"):
        agreed = therapy.agree(partner=bob_seat, access_id=asked.pk)
    assert agreed.statement == agreed.statements["de"]
    for client, code in ((signed_in_again(alice), "es"), (bob_client, "de")):
        page = client.get(reverse("agreements:therapist_access")).content.decode()
        shown = re.search(r'<p class="statement">(.*?)</p>', page, re.S).group(1)
        assert shown.replace("&#x27;", "'") == agreed.statements[code], (code, shown)
    # The therapist's name in it is isolated, in plain text (it is kept and exported).
    assert "\u2068Dana\u2069" in agreed.statements["he"]


def test_an_access_from_before_the_languages_shows_the_words_it_kept(couple, alice, dana_2fa):
    access = grant_therapist(couple, dana_2fa)
    TherapistAccess.objects.filter(pk=access.pk).update(statements={}, statement="Old words.")
    speaks(alice, "he")
    page = signed_in_again(alice).get(reverse("agreements:therapist_access")).content.decode()
    assert '<p class="statement">Old words.</p>' in page
