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
# wrk: the C load client the submission and certificate benches drive (their tiny runs in
# tests/bench take the same path as `make bench`).
TEST_DEBS := $(RUN_DEBS) poppler-utils libnss3-tools postgresql-client chromium nginx faketime systemd wrk

.PHONY: run test test-image lint typecheck pytest pytest-sqlite pytest-postgres messages bench clean slim dist test-dist

run: $(VENV)/.synced-run system-run
	$(BIN)/fangxin migrate
	$(BIN)/fangxin demo
	$(BIN)/fangxin serve --host $(HOST) --port $(PORT)

# The two passes share nothing (their own databases, data directories and Redis database),
# so they run side by side: on two cores that is the SQLite pass's time, not the sum.
# At the bench width: tests/bench runs every benchmark at a tiny size, peers included.
test: $(VENV)/.synced-bench system-test lint typecheck
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

# The environment at three widths: `run` is the runtime only (what production holds), `dev`
# adds the test, lint and type tools, `bench` the benchmarks' peers (pandas, DuckDB, NumPy).
# A venv keeps the widest width it was synced with, so `make run` after `make test` does not
# uninstall the test tools that the next `make test` would install again (and production,
# never tested in place, holds only the runtime); scripts/sync-env.sh says how. Re-synced only
# when the lock or the project changes: a second `make run` starts at once.
$(VENV)/.synced-run $(VENV)/.synced-dev $(VENV)/.synced-bench: $(VENV)/.synced-%: uv.lock pyproject.toml | $(UV)
	@UV=$(UV) PYTHON=$(PYTHON) VENV=$(VENV) scripts/sync-env.sh $*

# The marker's old name, for scripts and branches that still name it: the test width.
$(VENV)/.synced: $(VENV)/.synced-dev
	@touch $@

# The runtime only, dropping test and bench tools from this checkout's venv.
slim: | $(UV)
	rm -f $(VENV)/.synced-*
	@UV=$(UV) PYTHON=$(PYTHON) VENV=$(VENV) scripts/sync-env.sh run

lint: $(VENV)/.synced-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.synced-dev
	$(BIN)/mypy

# Every database-facing test runs twice: on SQLite, then on a fresh PostgreSQL database
# in a separate process (never two dialects in one process).
pytest: pytest-sqlite pytest-postgres

pytest-sqlite: $(VENV)/.synced-bench system-test
	FANGXIN_TEST_DATABASE=sqlite $(BIN)/pytest -q

pytest-postgres: $(VENV)/.synced-bench system-test
	# The schema fuzzer runs 240 cases per operation (120 per role) in the SQLite pass; here a
	# third of them, for what only PostgreSQL would refuse.
	FANGXIN_TEST_DATABASE=postgres FANGXIN_FUZZ_EXAMPLES=40 $(BIN)/pytest -q -m db

messages: $(VENV)/.synced-run
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k N_ -k ngettext:1,2 --no-location \
	  --sort-output --omit-header -o service/web/translations/messages.pot service surveys scoring certificates
	$(BIN)/pybabel update --no-fuzzy-matching --omit-header -i service/web/translations/messages.pot \
	  -d service/web/translations
	$(BIN)/python scripts/fill_translations.py

BENCHES := submit load scoring score_run credit certificates

# Every benchmark, then one table of their figures with the machine's description
# (bench/results/figures.md).
bench: $(VENV)/.synced-bench
	@scripts/system-deps.sh wrk
	@rm -f bench/results/figures.jsonl
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done
	@$(BIN)/python bench/report.py

# The offline installation bundle, dist/fangxin-<version>-offline.tar.gz: our wheel, a wheel of
# every locked runtime package, the Debian package list, install.sh, the nginx and systemd
# files (scripts/dist.sh lists them). Building needs the network; installing needs none.
dist: | $(UV)
	@UV=$(UV) PYTHON=$(PYTHON) RUN_DEBS="$(RUN_DEBS)" scripts/dist.sh

# The bundle built, installed into a fresh venv with no network, migrated, served and its
# worker started (tests/deploy/test_dist.py; about 4 minutes, so not in `make test`, which
# verifies the systemd units).
test-dist: $(VENV)/.synced-dev system-run
	UV=$(UV) FANGXIN_TEST_DIST=1 $(BIN)/pytest -q -m dist tests/deploy/test_dist.py

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache dist
