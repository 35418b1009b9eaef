"""The small edges of issue 23: messages that stay while true, the chart's labels, the withdrawal
note above its button, export numbers, sessions, the timeline's suggestions."""

import pytest
from django.urls import reverse

from agreements.defaults import DEFAULT_RULES
from checkins import pages as checkin_pages
from checkins.models import CheckIn
from tests.checkin_helpers import revealed
from tests.conftest import client_for, rules_of

pytestmark = pytest.mark.django_db


def test_the_charts_labels_never_overlap_a_point(couple):
    a, b = couple
    for n, (mine, theirs) in enumerate([(5, 1), (1, 5), (5, 5), (1, 1), (3, 5)]):
        revealed(a, b, a_words={"overall": mine}, b_words={"overall": theirs}, topic=f"T{n}")
    checkins = checkin_pages.checkins_of(a.couple)
    chart = checkin_pages.chart(
        list(CheckIn.objects.filter(pk__in=[c.pk for c in checkins])), [a, b]
    )
    assert chart is not None
    size, mark = checkin_pages.LABEL_SIZE, checkin_pages.MARK
    for label in chart.labels:
        # A label's box spans LABEL_SIZE above its baseline; a point's mark MARK around it.
        top, bottom = label["y"] - size, label["y"] + 2
        for series in chart.series:
            for point in series.points:
                assert point.y + mark < top or point.y - mark > bottom, (label, point)
        assert top >= 0 and bottom <= chart.height
    page = client_for(a.user).get(reverse("checkins:list")).content.decode()
    assert "Wonderful</text>" in page and "It hurt</text>" in page


def test_the_withdrawal_note_opens_above_its_button(couple):
    from agreements.stories import both_accept

    a, b = couple
    rule = rules_of(a)[0]
    both_accept(rule, a, b)
    html = client_for(a.user).get("/agreement/").content.decode()
    start = html.index('class="withdraw-form"')
    form = html[start : html.index("</form>", start)]
    assert form.index('name="note"') < form.index("Withdraw consent")


def test_export_numbers_match_the_apps(couple, alice):
    from agreements.stories import both_accept
    from intimacy import privacy

    a, b = couple
    rules = rules_of(a)
    both_accept(rules[4], a, b)  # rule 5 alone is in force
    title = DEFAULT_RULES[4][0]
    text = privacy.export_markdown(alice)
    section = text[text.index("### Rules in force") : text.index("### Every rule")]
    assert f"- **5. {title}**" in section
    assert "1." not in section
    assert f"#### 5. {title} (in force)" in text


@pytest.mark.parametrize(
    "agent, words",
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on macOS",
        ),
        ("", "An unknown browser"),
        ("curl/8.5", "An unknown browser"),
    ],
)
def test_a_browser_is_named_in_words(agent, words):
    from intimacy.useragent import describe

    assert describe(agent) == words


def test_the_sessions_page_reads_as_browser_and_time(alice):
    from datetime import timedelta

    from allauth.usersessions.models import UserSession
    from django.test import Client
    from django.utils import timezone

    from tests.conftest import PASSWORD

    phone = Client(
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
    )
    phone.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    UserSession.objects.filter(user=alice).update(created_at=timezone.now() - timedelta(hours=3))
    html = " ".join(phone.get(reverse("usersessions_list")).content.decode().split())
    assert "Chrome on Android, logged in 3 hours ago" in html
    assert "Mozilla/5.0" not in html
