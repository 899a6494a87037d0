# Fangxin: `make run` serves the demo city; `make test` runs the whole suite.
# Both install what is missing first: Debian packages (as root), uv, the locked environment.
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

RUN_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
TEST_DEBS := $(RUN_DEBS) poppler-utils libnss3-tools postgresql-client chromium nginx faketime

.PHONY: run test test-image lint typecheck pytest pytest-sqlite pytest-postgres messages bench clean

run: $(VENV)/.synced system-run
	$(BIN)/fangxin migrate
	$(BIN)/fangxin demo
	$(BIN)/fangxin serve --host $(HOST) --port $(PORT)

# The two passes share nothing (their own databases, data directories and Redis database),
# so they run side by side: on two cores that is the SQLite pass's time, not the sum.
test: $(VENV)/.synced system-test lint typecheck
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest-sqlite pytest-postgres

# The container image (Containerfile), built from a debootstrap base with podman and run from
# its exported file system with chroot: migrate, serve until /readyz, worker. As root; it
# takes minutes (README, "From the image"), so it is not part of `make test`.
test-image:
	nice -n 10 scripts/test-image.sh

system-run:
	@scripts/system-deps.sh $(RUN_DEBS)

system-test:
	@scripts/system-deps.sh $(TEST_DEBS)

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Re-synced only when the lock or the project changes: a second `make run` starts at once.
# Compiled to bytecode once here: where PYTHONDONTWRITEBYTECODE is set (containers, CI), each
# process would otherwise compile every module it imports, seconds of every job's start.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(BIN)/python -m compileall -q service scoring surveys certificates
	@touch $@

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.synced
	$(BIN)/mypy

# Every database-facing test runs twice: on SQLite, then on a fresh PostgreSQL database
# in a separate process (never two dialects in one process).
pytest: pytest-sqlite pytest-postgres

pytest-sqlite: $(VENV)/.synced system-test
	FANGXIN_TEST_DATABASE=sqlite $(BIN)/pytest -q

pytest-postgres: $(VENV)/.synced system-test
	# The schema fuzzer runs 240 cases per operation (120 per role) in the SQLite pass; here a
	# third of them, for what only PostgreSQL would refuse.
	FANGXIN_TEST_DATABASE=postgres FANGXIN_FUZZ_EXAMPLES=40 $(BIN)/pytest -q -m db

messages: $(VENV)/.synced
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k N_ -k ngettext:1,2 --no-location \
	  --sort-output --omit-header -o service/web/translations/messages.pot service surveys scoring certificates
	$(BIN)/pybabel update --no-fuzzy-matching --omit-header -i service/web/translations/messages.pot \
	  -d service/web/translations
	$(BIN)/python scripts/fill_translations.py

BENCHES := submit load scoring score_run credit certificates

# Every benchmark, then one table of their figures with the machine's description
# (bench/results/figures.md).
bench: $(VENV)/.synced
	@scripts/system-deps.sh wrk
	@rm -f bench/results/figures.jsonl
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done
	@$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
