#!/usr/bin/env bash
# Sync the locked environment (.venv) at one of three widths, each wider one holding the last:
#   run    the runtime only: what production holds          (make run)
#   dev    + the test, lint and type-checking tools          (make lint, typecheck)
#   bench  + pandas, DuckDB and NumPy, the benchmarks' peers  (make test, make bench)
# The venv keeps the widest width it was ever synced with: in a checkout that ran the tests,
# `make run` syncs the test width again instead of uninstalling pytest and Playwright that the
# next `make test` would install again; a production checkout that never ran them holds only
# the runtime. `make slim` brings a checkout back to the runtime only.
# Each width leaves a marker, .venv/.synced-<width>, touched with every narrower one's, so make
# re-syncs only when uv.lock or pyproject.toml is newer.
# Usage: scripts/sync-env.sh run|dev|bench   (UV, PYTHON and VENV from the Makefile)
set -euo pipefail
want=${1:?width: run, dev or bench}
UV=${UV:-uv}
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

width=$want
if [ -e "$VENV/.synced-bench" ]; then
  width=bench
elif [ -e "$VENV/.synced-dev" ] && [ "$want" = run ]; then
  width=dev
fi
case $width in
  run) flags=(--no-dev) ;;
  dev) flags=() ;;
  bench) flags=(--group bench) ;;
  *) echo "sync-env: unknown width $width (run, dev or bench)" >&2; exit 2 ;;
esac
[ "$width" = "$want" ] || echo "sync-env: this venv was synced for $width, keeping that width"

# Compiled to bytecode once here: where PYTHONDONTWRITEBYTECODE is set (containers, CI), each
# process would otherwise compile every module it imports, seconds of every job's start.
UV_PROJECT_ENVIRONMENT=$VENV "$UV" sync --frozen --compile-bytecode --python "$PYTHON" "${flags[@]}"
"$VENV/bin/python" -m compileall -q service scoring surveys certificates

touch "$VENV/.synced-run"
case $width in
  dev) touch "$VENV/.synced-dev" ;;
  bench) touch "$VENV/.synced-dev" "$VENV/.synced-bench" ;;
esac
