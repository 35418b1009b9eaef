"""Times where people are: each person reads every date and time in their own time zone (taken
from the browser at sign-up, changed in Settings), on every page and in every email they receive,
whoever caused it; each timeline groups by the reader's own days."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import linking
from accounts.models import User
from agreements import consent, people
from agreements.models import Event
from agreements.stories import agreement_of, rules_of
from checkins.models import CheckIn
from tests.checkin_helpers import revealed
from tests.conftest import PASSWORD, client_for, fresh, settings_refused

# Monday 7 December 2026, 01:02 in UTC: Sunday evening in Los Angeles, Monday night in Berlin.
MONDAY_0102_UTC = datetime(2026, 12, 7, 1, 2, tzinfo=UTC)
ISO_WITHOUT_MICROSECONDS = re.compile(
    r'datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:?\d\d)?"|datetime="\d{4}-\d\d-\d\d"'
)


@pytest.fixture
def apart(alice, bob, couple):
    """Alice in Berlin, Bob in Los Angeles."""
    User.objects.filter(pk=alice.pk).update(time_zone="Europe/Berlin")
    User.objects.filter(pk=bob.pk).update(time_zone="America/Los_Angeles")
    return couple


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def at(moment: datetime, **filters) -> None:
    """The events matching `filters` happened at `moment` (the clock of the story)."""
    Event.objects.filter(**filters).update(created_at=moment)


def test_a_partner_in_los_angeles_reads_sunday_evening_where_utc_says_monday(apart, alice, bob):
    a, b = apart
    rule = rules_of(a)[0]
    consent.not_yet(partner=a, rule=rule, version_id=fresh(rule).pending_version_id)
    consent.not_yet(partner=b, rule=rule, version_id=fresh(rule).pending_version_id)
    at(MONDAY_0102_UTC, agreement=agreement_of(a))

    bobs = client_for(bob).get(reverse("agreements:timeline")).content.decode()
    assert "Sunday 6 December" in text_of(bobs) and "17:02" in bobs
    assert "Monday 7 December" not in text_of(bobs)
    assert 'datetime="2026-12-06T17:02:00-0800"' in bobs
    assert "Dates and times are in your time zone, America/Los_Angeles." in text_of(bobs)

    alices = client_for(alice).get(reverse("agreements:timeline")).content.decode()
    assert "Monday 7 December" in text_of(alices) and "02:02" in alices
    assert "Sunday 6 December" not in text_of(alices)
    assert 'datetime="2026-12-07T02:02:00+0100"' in alices


def test_every_time_element_is_iso_without_microseconds(apart, alice, bob):
    a, b = apart
    revealed(a, b, topic="After the concert")
    checkin = CheckIn.objects.get()
    pages = [
        reverse("agreements:agreement"),
        reverse("agreements:timeline"),
        reverse("agreements:history", args=[rules_of(a)[0].pk]),
        reverse("checkins:list"),
        reverse("checkins:checkin", args=[checkin.pk]),
    ]
    client = client_for(bob)
    found = 0
    for page in pages:
        html = client.get(page).content.decode()
        values = re.findall(r'datetime="[^"]*"', html)
        found += len(values)
        for value in values:
            assert ISO_WITHOUT_MICROSECONDS.fullmatch(value), (page, value)
    assert found


def test_check_in_dates_follow_the_reader(apart, alice, bob):
    a, b = apart
    revealed(a, b, topic="Late film")
    CheckIn.objects.update(created_at=MONDAY_0102_UTC, revealed_at=MONDAY_0102_UTC)
    bobs = text_of(client_for(bob).get(reverse("checkins:list")).content.decode())
    alices = text_of(client_for(alice).get(reverse("checkins:list")).content.decode())
    assert "6 Dec 2026" in bobs and "7 Dec 2026" not in bobs
    assert "7 Dec 2026" in alices and "6 Dec 2026" not in alices


def test_the_timeline_groups_by_the_readers_own_days(apart, alice, bob):
    """Sunday 20:30 and Monday 01:02 in UTC: one Sunday in Los Angeles (12:30 and 17:02), two
    days in Berlin (Sunday 21:30, Monday 02:02); the start, Saturday 01:02 in UTC, is a Friday
    evening in Los Angeles."""
    a, b = apart
    agreement = agreement_of(a)
    rules = rules_of(a)
    for rule in rules[:2]:
        consent.not_yet(partner=a, rule=rule, version_id=fresh(rule).pending_version_id)
        consent.not_yet(partner=b, rule=rule, version_id=fresh(rule).pending_version_id)
    at(MONDAY_0102_UTC - timedelta(days=2), agreement=agreement)  # the start
    at(MONDAY_0102_UTC - timedelta(hours=4, minutes=32), rule=rules[0], kind="not_yet")
    at(MONDAY_0102_UTC, rule=rules[1], kind="not_yet")

    def days(user: User) -> list[str]:
        html = client_for(user).get(reverse("agreements:timeline")).content.decode()
        return re.findall(r"(?:Friday|Saturday|Sunday|Monday) \d+ December", text_of(html))

    assert days(bob) == ["Sunday 6 December", "Friday 4 December"]
    assert days(alice) == ["Monday 7 December", "Sunday 6 December", "Saturday 5 December"]


def test_the_email_is_in_the_recipients_zone_when_the_other_partner_caused_it(
    apart, alice, bob, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    """Alice, in Berlin, proposes a rule through the page; Bob, in Los Angeles, is told in his
    own evening."""
    monkeypatch.setattr(timezone, "now", lambda: MONDAY_0102_UTC)
    client = client_for(alice)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("agreements:new_rule"), {"title": "Tea after", "text": "We make tea after."}
        )
    assert response.status_code in (200, 302)
    [message] = [m for m in mailoutbox if m.to == [bob.email]]
    body = " ".join(message.body.split())
    assert "on Sunday 6 December 2026 at 17:02 (America/Los_Angeles time)" in body
    assert "Monday" not in body and "Berlin" not in body


def test_the_partnership_ended_email_is_in_the_recipients_zone(
    apart, alice, bob, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(timezone, "now", lambda: MONDAY_0102_UTC)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        linking.end_partnership(user=alice)
    [message] = [m for m in mailoutbox if m.to == [bob.email]]
    assert "ended on Sunday 6 December 2026 at 17:02 (America/Los_Angeles time)" in " ".join(
        message.body.split()
    )


# -- where the zone comes from -----------------------------------------------------------------------


def sign_up(zone: str | None) -> User:
    data = {
        "display_name": "Sam",
        "email": "sam@example.com",
        "password1": PASSWORD,
        "account_type": "partner",
        "practice_name": "",
    }
    if zone is not None:
        data["time_zone"] = zone
    response = Client().post(reverse("account_signup"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return User.objects.get(email="sam@example.com")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("Mars/Olympus_Mons", "UTC"),
        ("", "UTC"),
        (None, "UTC"),
    ],
)
def test_sign_up_takes_the_browsers_zone_when_it_is_a_real_one(db, given, kept):
    assert sign_up(given).time_zone == kept


def test_the_sign_up_form_carries_the_field_the_script_fills(db):
    html = Client().get(reverse("account_signup")).content.decode()
    assert re.search(r'<input type="hidden" name="time_zone"[^>]*data-time-zone', html)


def test_settings_change_the_zone_and_the_next_page_follows(apart, alice, bob):
    a, b = apart
    rule = rules_of(a)[0]
    consent.not_yet(partner=b, rule=rule, version_id=fresh(rule).pending_version_id)
    at(MONDAY_0102_UTC, agreement=agreement_of(a))
    client = client_for(bob)
    page = client.get(reverse("accounts:settings")).content.decode()
    assert '<option value="America/Los_Angeles" selected>' in page
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": "Bob", "partner_update_emails": "on", "time_zone": "Asia/Tokyo"},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=bob.pk).time_zone == "Asia/Tokyo"
    timeline = client.get(reverse("agreements:timeline")).content.decode()
    assert "Monday 7 December" in text_of(timeline) and "10:02" in timeline


def test_an_unknown_zone_in_settings_says_so_and_loses_nothing(apart, bob):
    # What they typed is still in the form; nothing was saved.
    page = settings_refused(
        bob,
        {"display_name": "Bobby", "partner_update_emails": "", "time_zone": "Mars/Olympus_Mons"},
        kept={
            "time_zone": "America/Los_Angeles",
            "display_name": "Bob",
            "partner_update_emails": True,
        },
    )
    assert "Choose a time zone from the list, such as Europe/Berlin or America/Los_Angeles." in page


def test_the_service_refuses_an_unknown_zone(bob):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        people.save_settings(
            user=bob, display_name="Bob", partner_update_emails=True, time_zone="Nowhere/Else"
        )
    assert User.objects.get(pk=bob.pk).time_zone == "UTC"


def test_a_signed_out_visitor_reads_utc(db):
    html = Client().get("/").content.decode()
    assert "Dates and times are in your time zone" not in html


def test_a_settings_form_without_the_zone_keeps_it(apart, bob):
    response = client_for(bob).post(
        reverse("accounts:settings"), {"display_name": "Robert", "partner_update_emails": "on"}
    )
    assert response.status_code == 302
    saved = User.objects.get(pk=bob.pk)
    assert (saved.display_name, saved.time_zone) == ("Robert", "America/Los_Angeles")


def test_the_time_zone_database_is_checked(monkeypatch):
    from intimacy import checks

    assert checks.time_zone_database(None) == []
    monkeypatch.setattr(checks, "is_time_zone", lambda zone: False)
    assert [w.id for w in checks.time_zone_database(None)] == ["intimacy.W001"]
