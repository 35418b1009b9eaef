"""The lock files: the tests run exactly what production runs, every pin is hash-checked, and the
routines that refresh and audit them exist (README, "Dependencies")."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    return {package.lower(): version for package, version in PIN.findall(read(name))}


def read(name: str) -> str:
    return (ROOT / name).read_text()


def test_the_development_lock_pins_every_production_package_at_the_same_version():
    production, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert production
    differing = {
        package: (version, development.get(package))
        for package, version in production.items()
        if development.get(package) != version
    }
    assert differing == {}


def test_every_pin_of_both_lock_files_carries_its_hashes():
    for name in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=\S)", read(name))
        packages = [entry for entry in entries if PIN.match(entry)]
        assert len(packages) == len(pins(name))
        for entry in packages:
            assert "--hash=sha256:" in entry, (name, entry.splitlines()[0])


def test_the_locks_say_how_they_were_made_and_make_lock_does_the_same():
    makefile = read("Makefile")
    for name, extra in (("requirements.lock", ""), ("requirements-dev.lock", "--extra dev ")):
        header = read(name).splitlines()[1]
        assert f"uv pip compile pyproject.toml {extra}--python-version 3.12" in header
        assert f"uv pip compile pyproject.toml {extra}$(LOCK_FLAGS) -o {name}" in makefile
    assert "LOCK_FLAGS = --quiet --python-version 3.12 --generate-hashes" in makefile


def test_make_audit_fails_when_it_could_not_audit_and_covers_both_locks():
    recipe = read("Makefile").split("\naudit:", 1)[1].split("\n\n", 1)[0]
    assert "pip-audit --strict" in recipe
    assert "-r requirements.lock -r requirements-dev.lock" in recipe
    assert "make audit" in read("README.md")
    assert "audit" not in read(".ci/run"), "CI has no network that reaches the advisory data"
