"""intimacy/rows.py writes what the template tags it stands in for write, in every language and
time zone, clock changes included."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from intimacy.rows import Dates, address, sentence

ZONES = ["UTC", "Asia/Jerusalem", "Pacific/Chatham", "America/Los_Angeles", "Asia/Kolkata"]
# Around the end of Israel's summer time in 2026 (25 October, 02:00 back to 01:00): the hour
# from 01:00 happens twice there, and the filter writes no offset for it.
MOMENTS = [
    datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC) + timedelta(minutes=m)
    for m in (0, 1, 30, 61, 90, 121)
] + [
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 10, 30, 5, 123456, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
]
FILTERS = Template(
    '{{ m|date:_("j F Y") }}|{{ m|date:_("j M Y") }}|{{ m|date:_("j F Y, H:i") }}|'
    "{{ m|date:'Y-m-d\\TH:i:sO' }}"
)


@pytest.mark.parametrize("language", ["en", "he", "de", "es"])
@pytest.mark.parametrize("zone", ZONES)
def test_dates_are_written_as_the_date_filter_writes_them(language, zone):
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
        dates = Dates()
        for moment in MOMENTS:
            made = "|".join(
                [
                    dates.day(moment),
                    dates.day(moment, translation.gettext("j M Y")),
                    dates.day_and_time(moment),
                    dates.iso(moment),
                ]
            )
            assert made == FILTERS.render(Context({"m": moment})), (zone, moment)


@pytest.mark.parametrize("language", ["en", "he", "de", "es"])
def test_each_language_writes_a_day_and_time_as_its_day_then_the_time(language):
    """What Dates.day_and_time relies on: a translator's "j F Y, H:i" is their "j F Y", then
    ", H:i"."""
    with translation.override(language):
        assert translation.gettext("j F Y, H:i") == translation.gettext("j F Y") + ", H:i"


def test_an_address_is_the_reversed_url_of_each_id():
    couple = address("therapist:couple")
    for pk in (1, 42, 1234567):
        assert couple(pk) == reverse("therapist:couple", args=[pk])


def test_a_sentence_escapes_its_values_and_keeps_the_catalogues_markup():
    said = sentence("<strong>%(n)s</strong> by %(name)s", n=2, name="<Bo & Al>")
    assert said == "<strong>2</strong> by &lt;Bo &amp; Al&gt;"
    assert hasattr(said, "__html__")
