"""Privacy by design: the quick exit on every page, neutral words wherever a bystander could look
(titles, favicon, every email), nothing private in logs or error reports, encryption at rest and
key rotation."""

import io
import logging
import re
from html.parser import HTMLParser
from unittest import mock

import pytest
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.sites.requests import RequestSite
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.debug import get_default_exception_reporter_filter

from accounts import linking
from accounts.management.commands.reencrypt import encrypted_fields
from agreements import consent, therapy
from agreements.models import (
    CheckInInvitation,
    Comment,
    Event,
    Rule,
    RuleVersion,
    SessionNote,
    Suggestion,
    TherapistAccess,
)
from intimacy import emails
from tests.conftest import PASSWORD, client_for, grant_therapist, link, make_user, reauthenticate
from tests.security_production import ROOT
from tests.security_world import (
    SECRET,
    activate_totp,
    build_world,
    every_page,
)

# Words that must never appear where a bystander could look: a tab title, a notification, an
# email subject or body. (The app's name and neutral words like "agreement" are fine.)
NEVER_SHOWN = [
    "sex",
    "intimacy",
    "intimate",
    "erotic",
    "kink",
    "fetish",
    "bdsm",
    "bondage",
    "condom",
    "orgasm",
    "naked",
    "nude",
    "porn",
    "lover",
    "affair",
    "bedroom",
    "monogam",
    "polyam",
    "swinger",
    "threesome",
    "arous",
    "desire",
    "consent",
    "safeword",
    "cheating",
]
NEVER_SHOWN_RE = re.compile("|".join(NEVER_SHOWN), re.I)


def revealing_words(text: str) -> list[str]:
    return NEVER_SHOWN_RE.findall(text)


# -- pages: the quick exit, titles, no inline code ------------------------------------------------

FOCUSABLE = {"a", "button", "input", "select", "textarea", "summary", "iframe"}


class PageParser(HTMLParser):
    """The title, the focusable elements in document order, and anything inline that a strict
    CSP would refuse."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.focusable: list[dict] = []
        self.inline: list[str] = []
        self.title = ""
        self._in_title = False
        self._script_inline = False

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = dict(attrs)
        for name, value in attributes.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
            if name == "style":
                self.inline.append(f"<{tag} style>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.inline.append(f"<{tag} {name}=javascript:>")
            if name == "tabindex" and value and value.lstrip("-").isdigit() and int(value) > 0:
                self.inline.append(f"<{tag} tabindex={value}> (jumps the tab order)")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and "src" not in attributes:
            kind = (attributes.get("type") or "").lower()
            if kind not in ("application/json", "application/ld+json"):
                self.inline.append("<script> without src")
        if tag == "title":
            self._in_title = True
        focusable = tag in FOCUSABLE and not (tag == "a" and "href" not in attributes)
        if tag == "input" and attributes.get("type") == "hidden":
            focusable = False
        if attributes.get("tabindex") == "-1" or "disabled" in attributes:
            focusable = False
        if "tabindex" in attributes and attributes["tabindex"] != "-1":
            focusable = True
        if focusable:
            self.focusable.append({"tag": tag, **attributes})

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(body: str) -> PageParser:
    parser = PageParser()
    parser.feed(body)
    return parser


def html_documents(world):
    for label, response in every_page(world):
        body = response.content.decode(errors="replace")
        if response.get("Content-Type", "").startswith("text/html") and "<html" in body:
            yield label, response, body


def test_every_page_starts_with_the_quick_exit_and_has_a_neutral_title_and_no_inline_code(db):
    world = build_world()
    pages = 0
    for label, _, body in html_documents(world):
        pages += 1
        page = parse(body)
        assert page.focusable, label
        first = page.focusable[0]
        assert first.get("id") == "quick-exit", (label, first)
        assert first.get("href", "").startswith("https://") and first.get("data-exit-url"), label
        assert page.title.strip().endswith("Rules of the Road"), (label, page.title)
        assert not revealing_words(page.title), (label, page.title)
        assert not page.inline, (label, page.inline)
    assert pages > 150


def test_the_quick_exit_script_blanks_the_page_and_replaces_the_history_entry():
    script = (ROOT / "static/js/app.js").read_text()
    assert "location.replace(" in script  # not location.href: Back must not return here
    assert "document.body.hidden = true" in script or "body.innerHTML" in script
    assert '"Shift"' in script


def test_the_settings_page_says_honestly_what_the_quick_exit_does_not_do(alice):
    page = client_for(alice).get(reverse("accounts:settings")).content.decode()
    assert "Quick exit" in page
    assert "does not erase your browser history" in page


def test_the_favicon_shows_no_words():
    favicon = (ROOT / "static/img/favicon.svg").read_text()
    assert "<text" not in favicon and not revealing_words(favicon)


# -- emails ---------------------------------------------------------------------------------------


def email_templates() -> list[str]:
    """Every email template prefix: the app's own (templates/emails/) and every one allauth
    has (account/email/, mfa/email/), whether or not the project overrides it."""
    import allauth

    prefixes = set()
    for base, folder in [
        (ROOT / "templates", "emails"),
        (ROOT / "templates", "account/email"),
        (ROOT / "templates", "mfa/email"),
        (ROOT.joinpath(allauth.__path__[0]).parent / "allauth/templates", "account/email"),
        (ROOT.joinpath(allauth.__path__[0]).parent / "allauth/templates", "mfa/email"),
    ]:
        for path in (base / folder).glob("*_subject.txt"):
            prefixes.add(f"{folder}/{path.name.removesuffix('_subject.txt')}")
    return sorted(prefixes)


def test_the_app_sends_only_emails_it_has_templates_for():
    sent = set()
    for path in list(ROOT.glob("accounts/**/*.py")) + list(ROOT.glob("agreements/**/*.py")):
        sent |= set(re.findall(r"emails\.send\(\s*\"(\w+)\"", path.read_text()))
    assert sent, "the app's own emails"
    assert {f"emails/{name}" for name in sent} <= set(email_templates())


def assert_neutral_email(message, *private: str) -> None:
    texts = [message.subject, message.body] + [
        content for content, _ in getattr(message, "alternatives", [])
    ]
    label = message.subject
    assert message.from_email.startswith("Rules of the Road"), message.from_email
    assert message.subject.startswith("Rules of the Road") or message.subject.endswith(
        "Rules of the Road"
    ), label
    for text in texts:
        assert not revealing_words(text), (label, revealing_words(text))
        for words in private:
            assert words not in text, (label, words)


def own_email(template: str, context: dict):
    """One of the app's own emails, built as intimacy.emails.send builds it."""
    with mock.patch.object(emails.transaction, "on_commit", lambda send: send()):
        emails.send(template, "alice@example.com", context)
    return mail.outbox.pop()


def test_every_email_template_is_neutral(db, alice, settings):
    request = RequestFactory().get("/", HTTP_HOST="testserver")
    request.user = alice
    context = {
        "user": alice,
        "email": "alice@example.com",
        "current_site": RequestSite(request),
        "request": request,
        "activate_url": "https://testserver/accounts/confirm-email/KEY/",
        "password_reset_url": "https://testserver/accounts/password/reset/key/KEY/",
        "signup_url": "https://testserver/accounts/signup/",
        "code": "ABC123",
        "key": "KEY",
        "ip": "192.0.2.1",
        "user_agent": "Browser",
        "timestamp": timezone.now(),
        "deleted_email": "old@example.com",
        "from_email": "old@example.com",
        "to_email": "new@example.com",
        "inviter": "Alice",
        "name": "Bob",
        "link": "/invitation/TOKEN/",
        "site_url": settings.SITE_URL,
    }
    templates = email_templates()
    assert any(t.startswith("account/email/") for t in templates)
    assert any(t.startswith("mfa/email/") for t in templates)
    assert any(t.startswith("emails/") for t in templates)
    with allauth_context.request_context(request):
        for prefix in templates:
            if prefix.startswith("emails/"):
                message = own_email(prefix.removeprefix("emails/"), context)
            else:
                message = get_adapter(request).render_mail(prefix, "alice@example.com", context)
            assert_neutral_email(message)


@pytest.mark.django_db(transaction=True)
def test_every_email_sent_along_the_way_is_neutral_and_carries_no_private_words(settings):
    """Real transactions: emails go out on commit, as they do in production."""
    settings.PARTNER_EMAIL_INTERVAL = timezone.timedelta(0)
    if hasattr(settings, "ACCOUNT_RATE_LIMITS"):
        del settings.ACCOUNT_RATE_LIMITS

    # Signing up, twice with the same address.
    for _ in range(2):
        Client().post(
            reverse("account_signup"),
            {
                "email": "newcomer@example.com",
                "password1": "a-long-signup-password-7",
                "display_name": "Newcomer",
                "account_type": "partner",
            },
        )
    # Password resets, for an account and for an address without one.
    for address in ("newcomer@example.com", "nobody@example.com"):
        Client().post(reverse("account_reset_password"), {"email": address})

    # The app's own: invitation, partner updates, therapist access, the partnership ending.
    alice, bob = make_user("alice@example.com", "Alice"), make_user("bob@example.com", "Bob")
    dana = make_user("dana@example.com", "Dana", therapist=True)
    invitation = linking.create_invitation(inviter=alice, email=bob.email)
    linking.accept_invitation(token=invitation.token, user=bob)
    a, b = alice.current_partner_seat(), bob.current_partner_seat()
    agreement = a.couple.agreement
    rule = consent.propose_rule(
        partner=a, agreement=agreement, title=SECRET, text=f"{SECRET} words", note=SECRET
    )
    consent.accept(partner=b, rule=rule, version_id=rule.pending_version_id)
    consent.withdraw(partner=a, rule=Rule.objects.get(pk=rule.pk), note=SECRET)
    grant_therapist((a, b), dana)
    therapy.add_comment(agreement=agreement, therapist=dana, text=SECRET)

    # allauth's notifications: password changed, two-factor on, new recovery codes, new address.
    client = client_for(alice)
    reauthenticate(client, alice)
    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "another-pass-77", "password2": "another-pass-77"},
    )
    client = client_for(bob)
    reauthenticate(client, bob)
    activate_totp(client)
    client.post(reverse("mfa_generate_recovery_codes"))
    client.post(reverse("account_email"), {"action_add": "", "email": "bob2@example.com"})
    linking.end_partnership(user=alice)

    subjects = sorted({m.subject for m in mail.outbox})
    assert len(subjects) >= 8, subjects
    for message in mail.outbox:
        assert_neutral_email(message, SECRET, "words")


# -- logs and error reports -----------------------------------------------------------------------


def test_sign_ins_failed_sign_ins_and_access_denials_are_logged_without_personal_data(
    db, caplog, couple, carol, settings
):
    if hasattr(settings, "ACCOUNT_RATE_LIMITS"):
        del settings.ACCOUNT_RATE_LIMITS
    caplog.set_level(logging.INFO, logger="intimacy.audit")
    alice = couple[0].user
    Client().post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    Client().post(
        reverse("account_login"), {"login": "alice@example.com", "password": "Hunter2-guess"}
    )
    rule = Rule.objects.filter(agreement__couple_id=couple[0].couple_id).first()
    client_for(carol).get(reverse("agreements:history", args=[rule.pk]))
    client_for(carol).get(reverse("accounts:invitation", args=["A-secret-token-value"]))
    Client(enforce_csrf_checks=True).post(reverse("account_login"), {"login": "x"})

    audit = [r for r in caplog.records if r.name == "intimacy.audit"]
    messages = [r.getMessage() for r in audit]
    assert f"sign-in user={alice.pk}" in messages
    assert "failed sign-in" in messages
    assert f"access denied status=404 user={carol.pk} view=agreements:history method=GET" in (
        messages
    )
    assert any("view=accounts:invitation" in m for m in messages)
    assert any(m.startswith("access denied status=403 user=anonymous") for m in messages)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for private in ("alice@example.com", "Hunter2-guess", "A-secret-token-value", f"/{rule.pk}/"):
        assert private not in everything, private


def test_nothing_anyone_writes_reaches_the_logs(db, caplog):
    caplog.set_level(logging.DEBUG)
    world = build_world()
    alice, bob = world.clients["partner"], world.clients["other_partner"]
    rule = world.proposed_rule
    alice.post(
        reverse("agreements:new_rule"), {"title": SECRET, "text": f"{SECRET} new", "note": SECRET}
    )
    alice.post(reverse("agreements:new_rule"), {"title": SECRET, "text": SECRET * 200})  # 422
    alice.post(
        reverse("agreements:change", args=[rule.pk]),
        {"title": SECRET, "text": f"{SECRET} changed", "note": SECRET},
        headers={"HX-Request": "true"},
    )
    bob.post(
        reverse("agreements:accept", args=[rule.pk]), {"version": rule.pending_version_id}
    )  # 409: stale
    bob.post(reverse("agreements:reply"), {"text": SECRET, "rule": rule.pk})
    world.clients["therapist"].post(
        reverse("therapist:comment", args=[world.agreement.pk]), {"text": SECRET, "rule": ""}
    )
    world.clients["other_couple"].post(
        reverse("agreements:change", args=[rule.pk]), {"title": SECRET, "text": SECRET}
    )  # 404
    for name in ("agreements:agreement", "agreements:print", "accounts:export_json"):
        alice.get(reverse(name))
    records = caplog.records
    assert records, "the audit log at least"
    for record in records:
        text = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        assert SECRET not in text, record.name


def boom(request):
    wording = request.POST.get("text", "")  # a local variable holding what someone wrote
    raise RuntimeError(f"failed after reading {len(wording)} characters")


urlpatterns = []  # filled below: this module is the URLconf of the error-report test


def test_error_reports_never_carry_what_people_wrote(db, settings, caplog, alice):
    from django.urls import path

    from intimacy.urls import urlpatterns as project

    urlpatterns[:] = [*project, path("boom/", boom)]
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.com"]
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.post("/boom/", {"text": SECRET, "note": SECRET})
    assert response.status_code == 500
    assert SECRET not in response.content.decode()
    assert "Something went wrong" in response.content.decode()
    assert 'id="quick-exit"' in response.content.decode()

    reports = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert reports, "the error report was emailed to ADMINS"
    for report in reports:
        assert "RuntimeError" in report.body
        assert SECRET not in report.body
        for content, _ in getattr(report, "alternatives", []):
            assert SECRET not in content
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert SECRET not in text


def test_djangos_default_filter_would_have_leaked_it(db, settings, alice):
    """The test above is meaningful: without our filter, the report carries the words."""
    from django.urls import path

    from intimacy.urls import urlpatterns as project

    urlpatterns[:] = [*project, path("boom/", boom)]
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.com"]
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    get_default_exception_reporter_filter.cache_clear()
    try:
        client = client_for(alice)
        client.raise_request_exception = False
        client.post("/boom/", {"text": SECRET})
    finally:
        get_default_exception_reporter_filter.cache_clear()
    assert any(SECRET in m.body for m in mail.outbox)


# -- encryption at rest and key rotation ----------------------------------------------------------


def all_stored_text() -> str:
    """Every value of every column of every table, as the database holds it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from the DB
            for row in cursor.fetchall():
                chunks.extend(str(value) for value in row if value is not None)
    return "\n".join(chunks)


def test_nothing_private_is_stored_in_plain_text(db):
    world = build_world()
    world.clients["partner"].post(
        reverse("agreements:new_rule"), {"title": SECRET, "text": SECRET, "note": SECRET}
    )
    assert RuleVersion.objects.filter(rule__agreement=world.agreement).exists()
    assert SECRET in RuleVersion.objects.filter(text__isnull=False).last().text  # readable
    stored = all_stored_text()
    assert SECRET not in stored
    assert "dana@example.com" in stored  # the scan does see the accounts' own columns


def test_every_encrypted_field_is_known_to_the_reencrypt_command():
    fields = {
        f"{model._meta.label}.{name}" for model, names in encrypted_fields() for name in names
    }
    assert {
        "agreements.RuleVersion.title",
        "agreements.RuleVersion.text",
        "agreements.Event.note",
        "agreements.Comment.text",
        "agreements.TherapistAccess.email",
        "agreements.Suggestion.title",
        "agreements.Suggestion.text",
        "agreements.Suggestion.note",
        "agreements.SessionNote.text",
        "agreements.CheckInInvitation.prompt",
        "accounts.Invitation.token",
    } <= fields


def raw_tokens() -> list[str]:
    tokens = []
    with connection.cursor() as cursor:
        for model, names in encrypted_fields():
            for name in names:
                column = model._meta.get_field(name).column
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table}")  # noqa: S608
                tokens.extend(value for (value,) in cursor.fetchall() if value)
    return tokens


def create_private_data() -> str:
    """Something in every encrypted column; returns the open invitation's token."""
    alice, bob = make_user("alice@example.com", "Alice"), make_user("bob@example.com", "Bob")
    dana = make_user("dana@example.com", "Dana", therapist=True)
    a, b = link(alice, bob)
    agreement = a.couple.agreement
    rule = consent.propose_rule(
        partner=a, agreement=agreement, title=SECRET, text=f"{SECRET} text", note=f"{SECRET} note"
    )
    # An access asked for by email before client links existed (its address is encrypted).
    TherapistAccess.objects.create(agreement=agreement, email=dana.email, requested_by=a)
    grant_therapist((a, b), dana)
    therapy.add_comment(agreement=agreement, rule=rule, partner=b, text=f"{SECRET} comment")
    therapy.suggest_rule(
        therapist=dana, agreement=agreement, title=SECRET, text=f"{SECRET} s", note=f"{SECRET} n"
    )
    therapy.save_session_note(therapist=dana, agreement=agreement, text=f"{SECRET} session")
    therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt=f"{SECRET} prompt")
    return linking.create_invitation(inviter=make_user("ivy@example.com", "Ivy")).token


def readable_values() -> list:
    return [
        sorted((v.title, v.text) for v in RuleVersion.objects.all()),
        sorted(e.note for e in Event.objects.all()),
        sorted(c.text for c in Comment.objects.all()),
        sorted(t.email for t in TherapistAccess.objects.all()),
        sorted((s.title, s.text, s.note) for s in Suggestion.objects.all()),
        sorted(n.text for n in SessionNote.objects.all()),
        sorted(i.prompt for i in CheckInInvitation.objects.all()),
    ]


def test_key_rotation_keeps_everything_readable_and_leaves_no_token_under_the_old_key(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    invitation_token = create_private_data()
    before = readable_values()
    tokens = raw_tokens()
    assert len(tokens) > 20
    assert all(Fernet(old.encode()).decrypt(t.encode()) for t in tokens)

    # A new key in front: everything still reads, with the old one as the fallback.
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert readable_values() == before

    output = io.StringIO()
    call_command("reencrypt", stdout=output)
    assert "agreements.RuleVersion.text" in output.getvalue()
    rotated = raw_tokens()
    assert len(rotated) == len(tokens)
    for token in rotated:
        Fernet(new.encode()).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token.encode())

    # The old key can go.
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert readable_values() == before
    assert linking.Invitation.objects.find(invitation_token) is not None
    assert SECRET not in all_stored_text()
    call_command("reencrypt", stdout=io.StringIO())  # twice is harmless
    assert readable_values() == before


def test_an_unknown_key_is_an_error_not_garbage(db, settings):
    create_private_data()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError, match="could not be decrypted"):
        list(RuleVersion.objects.all())
