"""Times where people are, in a real browser: sign-up takes the browser's own zone (app.js fills
the hidden field from Intl), and the pages then speak in it."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.test_journeys import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_takes_the_browsers_time_zone(contexts):
    page = contexts.page(timezone_id="America/Los_Angeles")
    sign_up(page, "sam@example.com", "Sam")
    assert User.objects.get(email="sam@example.com").time_zone == "America/Los_Angeles"
    page.goto("/settings/")
    expect(page.get_by_label(re.compile("Your time zone"))).to_have_value("America/Los_Angeles")
    expect(page.locator(".time-zone")).to_contain_text("America/Los_Angeles")


def test_without_a_zone_from_the_browser_the_account_starts_in_utc(contexts):
    page = contexts.page(java_script_enabled=False)
    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill("lee@example.com")
    page.locator("input[name=password1]").fill("a-long-test-password-1")
    page.locator("input[name=display_name]").fill("Lee")
    page.get_by_label("A partner").check()
    page.locator("form.signup-form button[type=submit]").click()
    page.wait_for_load_state()
    assert User.objects.get(email="lee@example.com").time_zone == "UTC"
