# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cksum < pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.run-$(HASH)
TEST_STAMP := $(VENV)/.test-$(HASH)
# Browser tests drive Debian's Chromium; without it they are deselected with a note
# (CI installs it and sets SMSDESK_REQUIRE_BROWSER=1, which makes its absence fatal).
CHROMIUM := /usr/bin/chromium
BROWSER_FLAGS := $(if $(wildcard $(CHROMIUM)),,-m "not browser")

.PHONY: run test lint check-migrations clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.run-*
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.test-*
	touch $@

run: $(RUN_STAMP)
	$(BIN)/smsdesk serve --demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

check-migrations: $(TEST_STAMP)
	rm -f $(VENV)/alembic-check.db*
	SMSDESK_DATABASE_URL=sqlite+aiosqlite:///$(VENV)/alembic-check.db $(BIN)/alembic upgrade head
	SMSDESK_DATABASE_URL=sqlite+aiosqlite:///$(VENV)/alembic-check.db $(BIN)/alembic check
	rm -f $(VENV)/alembic-check.db*

test: $(TEST_STAMP) lint check-migrations
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ -n "$$SMSDESK_REQUIRE_BROWSER" ]; then echo "$(CHROMIUM) is missing" >&2; exit 1; fi; \
	  echo "NOTE: $(CHROMIUM) not found: browser tests deselected (apt-get install chromium)"; \
	fi
	$(BIN)/pytest $(BROWSER_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache smsdesk.db smsdesk.db-wal smsdesk.db-shm
