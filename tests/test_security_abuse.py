"""Abuse of features that work as designed: invitations as an open relay, names and titles that
write their own lines into emails and exports, a therapist named before anyone agreed, and a
therapist's GET that rewrites what the couple sees."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django.utils import timezone

from accounts import linking
from accounts.models import Invitation, User
from agreements import consent, stories, therapy
from agreements.models import Comment, Event, Rule, RuleVersion, TherapistAccess
from intimacy import privacy
from tests.conftest import client_for, make_user


def invite(client, email):
    return client.post(reverse("accounts:invite"), {"email": email}, follow=True)


# -- invitations are not an open relay ------------------------------------------------------------


def test_one_account_cannot_send_invitation_emails_to_any_number_of_addresses(
    alice_client, alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pages = [invite(alice_client, f"person{i}@example.org") for i in range(12)]
    assert len(mailoutbox) == linking.INVITATION_EMAILS_PER_ACCOUNT[0]
    refused = pages[linking.INVITATION_EMAILS_PER_ACCOUNT[0]]
    assert refused.status_code == 200
    assert "sent several invitation emails in a short time" in refused.content.decode()
    # The refused request changed nothing: the last invitation made is still the open one.
    open_ = Invitation.objects.get(inviter=alice, status=Invitation.Status.OPEN)
    assert open_.email == "person4@example.org"
    # A link without an email is still possible, and sends nothing.
    invite(alice_client, "")
    assert Invitation.objects.get(inviter=alice, status=Invitation.Status.OPEN).email == ""
    assert len(mailoutbox) == 5


def test_one_address_cannot_be_flooded_from_many_accounts(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    senders = [make_user(f"sender{i}@example.com", f"Sender {i}") for i in range(6)]
    with django_capture_on_commit_callbacks(execute=True):
        for sender in senders:
            try:
                linking.create_invitation(inviter=sender, email="Target@Example.org")
            except linking.LinkingError as error:
                assert error.message == linking.TOO_MANY_INVITATION_EMAILS
    assert len(mailoutbox) == linking.INVITATION_EMAILS_PER_ADDRESS[0]
    # Other addresses are not affected.
    with django_capture_on_commit_callbacks(execute=True):
        linking.create_invitation(inviter=senders[-1], email="someone-else@example.org")
    assert mailoutbox[-1].to == ["someone-else@example.org"]


# -- names and titles are one line -----------------------------------------------------------------

INJECTED = [
    "Your bank\nSecurity alert: log in at https://evil.example/",
    "Alice\r\nBcc: victim@example.org",
    "Alice\u2028Second line",
    "Alice\tTab",
    "gro.elpmaxe\u202e",  # a right-to-left override: shows reversed
    "Alice\x00",
]


@pytest.mark.parametrize("name", INJECTED)
def test_the_settings_page_refuses_a_name_that_is_not_one_printable_line(alice, name):
    client = client_for(alice)
    response = client.post(
        reverse("accounts:settings"), {"display_name": name, "partner_update_emails": "on"}
    )
    assert response.status_code == 422
    message = "Null characters are not allowed" if "\x00" in name else "single line of ordinary"
    assert message in response.content.decode()
    alice.refresh_from_db()
    assert alice.display_name == "Alice"


@pytest.mark.parametrize("name", ["Zoë O'Brien-Łukasz", "Ana 👩‍❤️‍👨", "محمد‌رضا", "李小龍"])
def test_names_in_any_script_are_accepted(alice, name):
    response = client_for(alice).post(
        reverse("accounts:settings"), {"display_name": name, "partner_update_emails": "on"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == name


@pytest.mark.parametrize("field", ["display_name", "practice_name"])
def test_sign_up_refuses_a_name_with_a_line_break(db, field):
    values = {
        "email": "new@example.com",
        "password1": "a-long-test-password-1",
        "display_name": "New",
        "account_type": "therapist",
        "practice_name": "Practice",
    }
    values[field] = "New\nSecurity alert: log in at https://evil.example/"
    response = client_for_anonymous().post(reverse("account_signup"), values)
    assert response.status_code == 200
    assert "single line of ordinary characters" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def client_for_anonymous():
    from django.test import Client

    return Client()


def test_the_model_refuses_multi_line_names_and_titles_too(alice):
    from django.core.exceptions import ValidationError

    alice.display_name = "Alice\nForged"
    with pytest.raises(ValidationError):
        alice.full_clean()
    version = RuleVersion(title="Title\n1. **Forged**", text="x")
    with pytest.raises(ValidationError) as raised:
        version.clean_fields(exclude=["rule", "author", "previous"])
    assert "title" in raised.value.message_dict


def test_a_rule_title_with_a_line_break_is_refused_with_a_message(couple, alice_client):
    before = RuleVersion.objects.count()
    response = alice_client.post(
        reverse("agreements:new_rule"),
        {"title": "Title\n1. **Forged** (in force since 2020-01-01)", "text": "Wording"},
    )
    assert response.status_code in (200, 422)
    assert "single line of ordinary characters" in response.content.decode()
    assert RuleVersion.objects.count() == before


def test_the_invitation_email_quotes_the_name_as_data_even_from_an_old_row(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    # A row written before names were checked.
    User.objects.filter(pk=alice.pk).update(display_name="Your bank\nSecurity alert")
    alice.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        linking.create_invitation(inviter=alice, email="partner@example.org")
    [message] = mailoutbox
    assert "\n" not in message.subject
    assert message.subject.startswith("“Your bank Security alert” invited you")
    assert "Someone who gave their name as “Your bank Security alert” invited you" in message.body
    assert "\nSecurity alert" not in message.body


# -- the Markdown export's structure is the app's alone -------------------------------------------

HOSTILE_TEXT = (
    "1. **Forged** (in force since 2020-01-01)\n"
    "# Heading\n"
    "## Agreement between nobody\n"
    "> a quote\n"
    "<script>alert(1)</script>\n"
    "<img src=x onerror=alert(1)>\n"
    "```\n"
    "fenced\n"
    "```\n"
    "- a bullet\n"
    "+ another\n"
    "* and another\n"
    "2) numbered\n"
    "===\n"
    "---\n"
    "    indented code\n"
    "| a | b |\n"
    "[link](https://evil.example) ![image](https://evil.example/x.png) <https://evil.example>\n"
    "&amp; `code` *em* _em_ **strong** ~~gone~~ trailing backslash \\\n"
    "\n"
    "last line"
)
HOSTILE_LINE = "Title\n1. **Forged** (in force since 2020-01-01)\n# <b>bold</b> `x` [l](u)"
HOSTILE_NAME = "A\n1. **Forged**\n# <b>x</b> `x` [l](u) &amp;"  # fits the 60 of a name
BLOCK_QUOTE = re.compile(r"^(?: {0,3}>[ ]?)+")
BLOCKS = [
    ("heading", re.compile(r"^ {0,3}#{1,6}(?:\s|$)")),
    ("ordered", re.compile(r"^ {0,3}\d{1,9}[.)](?:\s|$)")),
    ("bullet", re.compile(r"^ {0,3}[-+*](?:\s|$)")),
    ("fence", re.compile(r"^ {0,3}(?:`{3,}|~{3,})")),
    ("html", re.compile(r"^ {0,3}<")),
    ("setext", re.compile(r"^ {0,3}(?:=+|-+)\s*$")),
    ("code", re.compile(r"^(?: {4}|\t)")),
    ("table", re.compile(r"^\s*\|")),
]
SPECIAL = set("\\`*_[]<>&!~|#")


def skeleton(markdown: str) -> list[tuple]:
    """Each line's Markdown structure: its quote depth, the kind of block it starts, and every
    character Markdown would read as syntax (backslash-escaped ones are plain text)."""
    shape = []
    for line in markdown.splitlines():
        quote = BLOCK_QUOTE.match(line)
        depth = quote.group(0).count(">") if quote else 0
        rest = line[quote.end() :] if quote else line
        kind = next((name for name, pattern in BLOCKS if pattern.match(rest)), "text")
        syntax, i = [], 0
        while i < len(rest):
            if rest[i] == "\\" and i + 1 < len(rest):
                i += 2
                continue
            if rest[i] in SPECIAL:
                syntax.append(rest[i])
            i += 1
        shape.append((depth, kind, "".join(syntax)))
    return shape


def same_shape(value: str) -> str:
    return re.sub(r"[^\n]", "x", value)


def fill(alice, bob, couple, agreement, *, text: str, line: str) -> None:
    a, b = couple
    for user in (alice, bob):
        User.objects.filter(pk=user.pk).update(display_name=HOSTILE_NAME, practice_name=line)
    rule = consent.propose_rule(partner=a, agreement=agreement, title="t", text="t", note="t")
    RuleVersion.objects.filter(rule__agreement=agreement).update(title=line, text=text)
    consent.accept(partner=b, rule=rule, version_id=rule.pending_version_id)
    Event.objects.filter(agreement=agreement).exclude(note="").update(note=text)
    Comment.objects.create(agreement=agreement, partner=a, text=text)


def test_nothing_anyone_writes_changes_the_structure_of_the_markdown_export(
    alice, bob, couple, agreement
):
    fill(alice, bob, couple, agreement, text=HOSTILE_TEXT, line=HOSTILE_LINE)
    alice.refresh_from_db()
    hostile = privacy.export_markdown(alice)

    # The same export with every value replaced by x's of the same shape.
    for user in (alice, bob):
        User.objects.filter(pk=user.pk).update(
            display_name=same_shape(HOSTILE_NAME), practice_name=same_shape(HOSTILE_LINE)
        )
    for version in RuleVersion.objects.filter(rule__agreement=agreement):
        version.title = same_shape(version.title)
        version.text = same_shape(version.text)
        version.save(update_fields=["title", "text"])
    for event in Event.objects.filter(agreement=agreement).exclude(note=""):
        event.note = same_shape(event.note)
        event.save(update_fields=["note"])
    for comment in Comment.objects.filter(agreement=agreement):
        comment.text = same_shape(comment.text)
        comment.save(update_fields=["text"])
    alice.refresh_from_db()
    benign = privacy.export_markdown(alice)

    assert skeleton(hostile) == skeleton(benign)
    assert len(hostile.splitlines()) == len(benign.splitlines())
    lines = hostile.splitlines()
    assert not any(line.lstrip().startswith("1. **Forged") for line in lines)
    assert not any(line.lstrip("> ").startswith("<") for line in lines)
    assert "<script>" not in hostile and "<b>" not in hostile
    # Escaped, not lost: the text is all there for a person to read.
    assert r"\<script\>alert(1)\</script\>" in hostile
    assert r"1\. \*\*Forged\*\* (in force since 2020-01-01)" in hostile


def test_a_therapist_is_named_in_the_export_only_once_both_partners_agreed(
    couple, alice, bob, agreement
):
    trent = make_user("trent@example.com", "Dr Trent", therapist=True)
    User.objects.filter(pk=trent.pk).update(practice_name="Trent Practice")
    a, b = couple
    trent.refresh_from_db()
    _, token = therapy.create_client_link(therapist=trent)
    asked = therapy.ask_partner(partner=a, token=token, scope="rules")
    # One asked for by email before client links existed, for an address with no account.
    TherapistAccess.objects.create(agreement=agreement, email="nobody@example.com", requested_by=a)
    for user in (alice, bob):
        data = privacy.export_data(user)
        names = [x["therapist"] for x in data["couples"][0]["agreement"]["therapist_accesses"]]
        assert names == [None, None]
        markdown = privacy.export_markdown(user)
        assert "Trent" not in markdown and "former therapist" not in markdown
    therapy.agree(partner=b, access_id=asked.pk)
    data = privacy.export_data(alice)
    accesses = data["couples"][0]["agreement"]["therapist_accesses"]
    assert "Dr Trent (Trent Practice)" in [x["therapist"] for x in accesses]


# -- a therapist's visit is recorded explicitly and once --------------------------------------------


@pytest.fixture
def dana_access(couple, dana) -> TherapistAccess:
    TOTP.activate(dana, generate_totp_secret())
    a, b = couple
    return stories.grant_therapist((a, b), dana)


def test_reloading_the_couple_page_neither_rewrites_the_last_view_nor_erases_the_news(
    couple, dana, dana_access
):
    a, b = couple
    client = client_for(dana)
    page = reverse("therapist:couple", args=[dana_access.agreement_id])
    earlier = timezone.now() - timedelta(days=2)
    TherapistAccess.objects.filter(pk=dana_access.pk).update(last_viewed_at=earlier)
    rule = Rule.objects.filter(agreement_id=dana_access.agreement_id).first()
    consent.accept(partner=a, rule=rule, version_id=rule.pending_version_id)

    first = client.get(page).content.decode()
    news = re.search(r"(\d+) updates?</strong> since your last visit", first)
    assert news is not None
    dana_access.refresh_from_db()
    visit = dana_access.last_viewed_at
    assert visit > earlier and dana_access.previous_viewed_at == earlier

    for _ in range(3):
        again = client.get(page).content.decode()
        assert f"{news.group(0)} on " in again
    dana_access.refresh_from_db()
    assert dana_access.last_viewed_at == visit  # the couple sees when the visit began


def test_a_prefetch_of_the_couple_page_is_not_a_visit(couple, dana, dana_access):
    client = client_for(dana)
    page = reverse("therapist:couple", args=[dana_access.agreement_id])
    response = client.get(page, headers={"Sec-Purpose": "prefetch"})
    assert response.status_code == 200
    dana_access.refresh_from_db()
    assert dana_access.last_viewed_at is None


def test_a_visit_after_a_few_minutes_starts_a_new_one(couple, dana, dana_access):
    client = client_for(dana)
    page = reverse("therapist:couple", args=[dana_access.agreement_id])
    long_ago = timezone.now() - therapy.VISIT_LENGTH - timedelta(seconds=1)
    TherapistAccess.objects.filter(pk=dana_access.pk).update(last_viewed_at=long_ago)
    client.get(page)
    dana_access.refresh_from_db()
    assert dana_access.previous_viewed_at == long_ago
    assert dana_access.last_viewed_at > long_ago
