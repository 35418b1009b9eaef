# Rules of the Road: everyday commands. GNU make; every recipe runs under /bin/sh.
SHELL := /bin/sh

VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
LOCK := requirements-dev.lock
CHROMIUM := /usr/bin/chromium
# Extra arguments for pytest: make test PYTEST_ARGS="-k consent -x"
PYTEST_ARGS ?=
# The port of the development server: make run PORT=8100
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install messages run test lint fmt bench screenshots lock audit clean distclean

# Development settings for the commands people run by hand, unless the caller chose otherwise.
run test screenshots messages: export DJANGO_DEBUG ?= true
# Links in emails follow the address the development server really has.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)

help:
	@echo "make run          set up .venv, migrate, load the demo couples, serve http://127.0.0.1:8000/"
	@echo "                  (make run PORT=8100 serves on another port)"
	@echo "make test         set up .venv and run the test suite (SQLite, or DATABASE_URL if set)"
	@echo "make messages     compile the translation catalogues (locale/*.po; docs/translating.md)"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make fmt          ruff fixes and formatting"
	@echo "make bench        the benchmark (bench/run.sh)"
	@echo "make screenshots  docs/screenshots/ from a real browser"
	@echo "make lock         regenerate the hashed lock files from pyproject.toml (UPGRADE=1: newest releases)"
	@echo "make audit        known vulnerabilities in the locked versions, and pins with a newer release"
	@echo "make clean        caches and collected static files; make distclean also removes .venv and var/"

# The interpreter is only looked for when there is no virtual environment yet.
$(PYTHON):
	@python=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv --clear $(VENV)

# Reinstalled only when the lock file is newer than the last install.
$(INSTALLED): $(LOCK) | $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	@touch $@

install: $(INSTALLED)

# The catalogues are compiled from locale/*/LC_MESSAGES/*.po; the .mo files are never committed
# (docs/translating.md). Needs GNU gettext's msgfmt (Debian: apt-get install gettext).
# The translation catalogues, compiled with GNU gettext's msgfmt. Without it the app still runs,
# in English only, and the language tests fail saying so.
messages: $(INSTALLED)
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(PYTHON) manage.py compilemessages --ignore .venv --ignore var --ignore node_modules --verbosity 0; \
	else \
		echo "msgfmt not found: pages stay in English until GNU gettext is installed (apt-get install gettext)"; \
	fi

run: messages
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py seed_demo
	@echo
	@echo "Rules of the Road is at http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	@echo
	$(PYTHON) manage.py runserver 127.0.0.1:$(PORT)

test: messages
	@if [ -x $(CHROMIUM) ] || [ "$${CI:-}" = "true" ]; then \
		echo "$(PYTHON) -m pytest $(PYTEST_ARGS)"; \
		$(PYTHON) -m pytest $(PYTEST_ARGS); \
	else \
		echo "Chromium not found at $(CHROMIUM): skipping the browser tests (apt-get install chromium)"; \
		echo "$(PYTHON) -m pytest -m \"not browser\" $(PYTEST_ARGS)"; \
		$(PYTHON) -m pytest -m "not browser" $(PYTEST_ARGS); \
	fi

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(INSTALLED)
	bash bench/run.sh

screenshots: $(INSTALLED)
	$(PYTHON) scripts/screenshots.py

# The lock files are made by uv from pyproject.toml, as their first lines say; both need PyPI.
# After a change to pyproject.toml: make lock (keeps every other pin). To move every pin to its
# newest release: make lock UPGRADE=1. Then make test, and commit pyproject.toml with both locks.
LOCK_FLAGS = --quiet --python-version 3.12 --generate-hashes $(if $(UPGRADE),--upgrade)
lock: $(INSTALLED)
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock

# pip-audit asks PyPI's vulnerability data about every pinned version of both lock files, and
# fails when it cannot (--strict: an audit that reached nothing is not a pass). It needs a
# network that reaches pypi.org; CI does not run it. Then the pins that lag behind PyPI.
audit: $(INSTALLED)
	$(VENV)/bin/pip-audit --strict --progress-spinner off --require-hashes --disable-pip \
		-r requirements.lock -r requirements-dev.lock
	$(PYTHON) -m pip list --outdated --disable-pip-version-check

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis .ruff_cache var/staticfiles bench/out
	find locale -name '*.mo' -delete

# Also removes the development database and the development keys kept in var/.
distclean: clean
	rm -rf $(VENV) var
