#!/usr/bin/env bash
# Install Fangxin from this offline bundle (made by `make dist`), with no network at all:
#   ./install.sh [PREFIX]          PREFIX defaults to /opt/fangxin
# 1. The Debian packages in debs.txt: missing ones are installed with apt-get when run as root
#    (from the machine's own apt sources, e.g. the bureau's mirror); otherwise they are named.
#    FANGXIN_SKIP_APT=1 only names them.
# 2. A virtual environment in PREFIX/venv with this bundle's wheels only (pip --no-index; pip's
#    configuration files and PIP_* index settings are ignored). Run again with a newer bundle
#    to upgrade in place (then `fangxin migrate`, then restart the services).
# 3. PREFIX/fangxin.env.example: the settings to fill in (systemd reads /etc/fangxin/fangxin.env).
# PYTHON names the interpreter (default python3.11).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/fangxin}
python=${PYTHON:-python3.11}
version=$(cat "$here/VERSION")

# Only this bundle's wheels.
export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_REQUIRE_VIRTUALENV

echo "== Fangxin $version into $prefix"
missing=()
while read -r deb; do
  [ -n "$deb" ] || continue
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done <"$here/debs.txt"
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && [ -z "${FANGXIN_SKIP_APT:-}" ] && command -v apt-get >/dev/null; then
    echo "== Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "install.sh: missing Debian packages (PDFs need them): ${missing[*]}" >&2
    echo "  install them with: apt-get install --no-install-recommends ${missing[*]}" >&2
  fi
fi
if ! command -v "$python" >/dev/null; then
  echo "install.sh: $python not found; Fangxin needs CPython 3.11 (Debian 12: python3.11)" >&2
  exit 1
fi

echo "== virtual environment $prefix/venv"
mkdir -p "$prefix"
[ -x "$prefix/venv/bin/python" ] || "$python" -m venv --without-pip "$prefix/venv"
venv_python=$prefix/venv/bin/python
pip_wheel=$(ls "$here"/wheels/pip-*.whl)
project_wheel=$(ls "$here"/wheels/fangxin-*.whl)
# pip runs from its own wheel, so the venv needs no ensurepip (python3.11-venv).
"$venv_python" "$pip_wheel/pip" install --quiet --no-warn-script-location \
  --find-links "$here/wheels" -r "$here/requirements.txt" "$pip_wheel"
# Our wheel last and always (a rebuilt bundle may carry the same version number).
"$venv_python" -m pip install --quiet --no-warn-script-location --no-deps --force-reinstall \
  "$project_wheel"
"$venv_python" -m pip check
"$prefix/venv/bin/fangxin" --help >/dev/null

cp "$here/fangxin.env.example" "$prefix/fangxin.env.example"
web=$("$venv_python" -c 'import pathlib, service; print(pathlib.Path(service.__file__).parent / "web")')
cat <<EOF
== installed: $prefix/venv/bin/fangxin

Next, as root (README, "Deploying"):
  useradd --system --home-dir /var/lib/fangxin --shell /usr/sbin/nologin fangxin
  install -d -m 0750 -g fangxin /etc/fangxin
  install -m 0640 -g fangxin $prefix/fangxin.env.example /etc/fangxin/fangxin.env   # then edit it
  cp $here/deploy/systemd/fangxin-*.service /etc/systemd/system/    # ExecStart: $prefix/venv
  systemctl daemon-reload
  (set -a; . /etc/fangxin/fangxin.env; runuser -u fangxin -- $prefix/venv/bin/fangxin migrate)
  systemctl enable --now fangxin-web fangxin-worker
nginx: deploy/nginx/ (set \$fangxin_web to $web).
EOF
