#!/usr/bin/env bash
# Build the offline installation bundle (make dist):
#   dist/fangxin-<version>-offline/        and the same as dist/fangxin-<version>-offline.tar.gz
#     install.sh          the installer: Debian packages, a venv, these wheels, no network
#     requirements.txt    the locked runtime set (uv export --no-dev), pinned with ==
#     wheels/             fangxin's wheel, a wheel of every locked runtime package, pip's
#     debs.txt            the Debian packages the runtime needs (Python 3.11 and RUN_DEBS)
#     fangxin.env.example the settings to fill in, for systemd's EnvironmentFile
#     deploy/             nginx and systemd files
#     SHA256SUMS          every file above
# The wheels are this machine's (Linux, its architecture, CPython 3.11): build the bundle on
# the architecture and Debian release it installs onto. Only requirements.txt and wheels/ are
# needed to make a runtime environment (pip install --no-index --find-links wheels -r ...).
# Needs the network (PyPI or the configured index) to build; the bundle then needs none.
# Usage: UV=uv PYTHON=python3.11 RUN_DEBS="..." scripts/dist.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
PYTHON=${PYTHON:-python3.11}
: "${RUN_DEBS:?the Debian packages the runtime needs (the Makefile passes RUN_DEBS)}"

version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
name=fangxin-$version-offline
out=dist/$name
rm -rf "$out" "dist/$name.tar.gz"
mkdir -p "$out/wheels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== fangxin's wheel"
"$UV" build --wheel --out-dir "$work/project" >/dev/null
cp "$work"/project/fangxin-*.whl "$out/wheels/"

echo "== the locked runtime set"
"$UV" export --frozen --no-dev --no-emit-project --format requirements-txt --quiet \
  -o "$work/hashed.txt"
"$UV" export --frozen --no-dev --no-emit-project --no-hashes --no-header \
  --format requirements-txt --quiet -o "$out/requirements.txt"

echo "== a wheel of each (downloaded and checked against the lock's hashes; built from the"
echo "   source distribution where the package publishes no wheel)"
"$PYTHON" -m venv "$work/pip"
# Every package any Linux CPython 3.11 may install: this machine's 3.11 may be newer than the
# target's (Debian 12 has 3.11.2, which needs async-timeout where 3.11.7 does not).
"$work/pip/bin/python" - "$work/hashed.txt" "$work/download.txt" <<'PY'
import sys
from pathlib import Path

from pip._vendor.packaging.markers import Marker, default_environment

source, target = (Path(arg) for arg in sys.argv[1:])
entries = source.read_text().replace("\\\n", " ").splitlines()
here = default_environment()
targets = [here] + [
    {**here, "python_full_version": f"3.11.{micro}", "implementation_version": f"3.11.{micro}"}
    for micro in range(15)
]
kept = []
for entry in entries:
    if not entry.strip() or entry.lstrip().startswith("#"):
        continue
    requirement, _, hashes = entry.partition(" --hash")
    name, _, marker = requirement.partition(";")
    if marker.strip() and not any(Marker(marker).evaluate(env) for env in targets):
        continue
    kept.append(f"{name.strip()} --hash{hashes}")
target.write_text("\n".join(kept) + "\n")
PY
"$work/pip/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
  --require-hashes -r "$work/download.txt" -w "$out/wheels"
# pip itself, for the installer to bootstrap a venv made --without-pip (Debian's python3.11
# has no ensurepip without python3.11-venv).
cp "$("$PYTHON" -c 'import ensurepip, pathlib; print(next((pathlib.Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl")))')" \
  "$out/wheels/"

wanted=$(grep -c '==' "$work/download.txt")
have=$(find "$out/wheels" -name '*.whl' | wc -l)
if [ "$have" -ne $((wanted + 2)) ]; then
  echo "dist: $wanted locked packages but $have wheels (with fangxin's and pip's)" >&2
  exit 1
fi

echo "== installer, Debian packages, settings and deploy files"
printf '%s\n' python3.11 $RUN_DEBS >"$out/debs.txt"
cp deploy/install.sh "$out/install.sh"
chmod 0755 "$out/install.sh"
cp deploy/fangxin.env.example "$out/fangxin.env.example"
mkdir -p "$out/deploy"
cp -r deploy/nginx deploy/systemd "$out/deploy/"
echo "$version" >"$out/VERSION"
(cd "$out" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)

tar -C dist -czf "dist/$name.tar.gz" "$name"
echo "dist/$name.tar.gz: $have wheels, $(du -sh "dist/$name.tar.gz" | cut -f1)"
