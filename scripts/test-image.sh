#!/usr/bin/env bash
# make test-image: build the container image where no registry and no `podman run` are
# allowed, then run it the way a container runtime would, with chroot.
#
#  1. a bookworm base from Debian's packages (scripts/image-base.sh: debootstrap, podman import);
#  2. the image from the Containerfile with --build-arg BASE=<that base> (vfs storage, chroot
#     isolation: no daemon, no user namespaces, no overlay mounts);
#  3. its file system exported (podman create + podman export) and, in a network namespace of
#     its own (only its loopback, so port 8000 is free whatever the host runs), as the image's
#     user, with the image's environment, working directory and ENTRYPOINT:
#     `fangxin migrate`, then the CMD (`fangxin serve`) until the image's own HEALTHCHECK
#     command passes and /readyz answers 200, then `fangxin worker`, which must stay up and
#     run a job; and WeasyPrint must set Chinese in Noto CJK.
#
# Storage, the base tarball and pip's and uv's download caches live in $FANGXIN_IMAGE_CACHE
# (default /var/cache/fangxin-image), outside the repository: a rerun rebuilds only what
# changed. Runs as root (debootstrap, chroot, namespaces). Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
CACHE=${FANGXIN_IMAGE_CACHE:-/var/cache/fangxin-image}
export FANGXIN_IMAGE_CACHE=$CACHE
export PODMAN="podman --storage-driver=vfs --root $CACHE/storage --runroot $CACHE/run"
BUILDAH="buildah --storage-driver=vfs --root $CACHE/storage --runroot $CACHE/run"
IMAGE=${IMAGE:-localhost/fangxin:test}
step() { echo "== $(( $(date +%s) - started ))s: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "test-image: run as root (debootstrap, chroot)" >&2; exit 1; }
scripts/system-deps.sh podman buildah debootstrap

if [ -n "${REUSE_IMAGE:-}" ] && $PODMAN image exists "$IMAGE"; then
  step "REUSE_IMAGE: running $IMAGE as built before"
else
step "base image from Debian's packages"
base=$(scripts/image-base.sh)

step "image $IMAGE from the Containerfile (BASE=$base)"
# Leftovers of an interrupted build first (this storage is the test's own).
$BUILDAH rm --all >/dev/null
# --layers=false: on vfs storage every committed step is a full copy of the file system
# (gigabytes, minutes each); so each stage is committed once. The build's RUN steps share the
# host's network (chroot isolation): uv fetches the locked wheels from PyPI or takes them
# from its cache mount, trusting the host's certificates (a TLS-inspecting proxy's too).
$PODMAN build --isolation=chroot --format docker --layers=false \
  --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg CA_FILE=/run/host-ca.crt \
  --build-arg BASE="$base" -t "$IMAGE" -f Containerfile . 2>&1 |
  grep -v -e '^Copying blob' -e '^Copying config' -e '^Writing manifest' -e '^Storing signatures'
$PODMAN image prune -f >/dev/null  # the builder stage and the previous image, untagged
fi

work=$(mktemp -d "$CACHE/test.XXXXXX")
cid=""
cleanup() {
  if [ -n "$cid" ]; then $PODMAN rm -f "$cid" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
$PODMAN image inspect "$IMAGE" > "$work/inspect.json"
size=$($PODMAN image inspect --format '{{.Size}}' "$IMAGE")

step "file system exported"
cid=$($PODMAN create "$IMAGE")
mkdir "$work/root"
$PODMAN export "$cid" | tar -x -C "$work/root" --numeric-owner
$PODMAN rm "$cid" >/dev/null 2>&1  # (its complaint: no systemd to drop a healthcheck timer)
cid=""

# The image's configuration as shell words: what a runtime would use.
python3 - "$work/inspect.json" "$work/root" > "$work/image.sh" <<'PY'
import json, shlex, sys
image = json.load(open(sys.argv[1]))[0]
config = image["Config"]
health = image.get("Healthcheck") or image.get("HealthCheck") or config.get("Healthcheck") or {}
test = health.get("Test") or []
assert test and test[0] == "CMD", f"no HEALTHCHECK in the image: {health!r}"
user, _, group = (config.get("User") or "root").partition(":")
ids = {}
for name, path in (("uid", "etc/passwd"), ("gid", "etc/group")):
    wanted = user if name == "uid" else (group or user)
    for line in open(f"{sys.argv[2]}/{path}"):
        parts = line.split(":")
        if wanted in (parts[0], parts[2]):
            ids[name] = parts[2]
assert ids.get("uid") not in (None, "0"), f"the image runs as root ({config.get('User')!r})"
q = lambda words: " ".join(shlex.quote(w) for w in words)
print(f"IMAGE_ENV=({q(config.get('Env') or [])})")
print(f"IMAGE_UID={ids['uid']} IMAGE_GID={ids['gid']}")
print(f"IMAGE_WORKDIR={shlex.quote(config.get('WorkingDir') or '/')}")
print(f"IMAGE_ENTRYPOINT=({q(config.get('Entrypoint') or [])})")
print(f"IMAGE_CMD=({q(config.get('Cmd') or [])})")
print(f"IMAGE_HEALTHCHECK=({q(test[1:])})")
print(f"IMAGE_VOLUMES=({q(sorted(config.get('Volumes') or {}))})")
PY
source "$work/image.sh"
echo "user $IMAGE_UID:$IMAGE_GID, workdir $IMAGE_WORKDIR, volumes ${IMAGE_VOLUMES[*]}"
echo "entrypoint ${IMAGE_ENTRYPOINT[*]}, cmd ${IMAGE_CMD[*]}"
[[ " ${IMAGE_VOLUMES[*]} " == *" /var/lib/fangxin "* ]] || { echo "no data volume" >&2; exit 1; }
test ! -e "$work/root/opt/fangxin/bin/pytest" || { echo "pytest in the image" >&2; exit 1; }

# One job every 2 s for the worker to run (its schedule is otherwise nightly).
mkdir -p "$work/root/etc/fangxin"
printf '[certificate_sweep]\nevery = 2\n' > "$work/root/etc/fangxin/jobs.toml"

step "migrate, serve, worker in the image's file system (chroot, own network namespace)"
export work IMAGE_UID IMAGE_GID IMAGE_WORKDIR
export IMAGE_ENV_S="${IMAGE_ENV[*]@Q}" IMAGE_ENTRYPOINT_S="${IMAGE_ENTRYPOINT[*]@Q}"
export IMAGE_CMD_S="${IMAGE_CMD[*]@Q}" IMAGE_HEALTHCHECK_S="${IMAGE_HEALTHCHECK[*]@Q}"
unshare --net --mount --fork bash -euo pipefail <<'INNER'
root=$work/root
ip link set lo up
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
eval "env_=($IMAGE_ENV_S) entry=($IMAGE_ENTRYPOINT_S) cmd=($IMAGE_CMD_S) health=($IMAGE_HEALTHCHECK_S)"
# As the runtime: the image's user (no supplementary groups), environment and directory.
in_image() {
  chroot --userspec="$IMAGE_UID:$IMAGE_GID" --groups="$IMAGE_GID" "$root" \
    /usr/bin/env -i "${env_[@]}" sh -c 'cd "$0" && exec "$@"' "$IMAGE_WORKDIR" "$@"
}
# WeasyPrint with the image's Pango and fonts: Chinese set in Noto CJK.
in_image python3 -c '
import weasyprint
doc = weasyprint.HTML(string="<html lang=zh-CN><p>放心消费</p></html>").render()
pdf = doc.write_pdf()
families = sorted({font.family for font in doc.fonts.values()})
assert families and all("Noto" in f and "CJK" in f for f in families), families
print("weasyprint: PDF of", len(pdf), "bytes, Chinese set in", ", ".join(families))' 2> "$work/pdf.err"
# Without fc-cache in the image, fontconfig says so on every start (and scans every font).
if [ -s "$work/pdf.err" ]; then echo "weasyprint complained:" >&2; cat "$work/pdf.err" >&2; exit 1; fi

in_image "${entry[@]}" migrate | tail -n 1

in_image "${entry[@]}" "${cmd[@]}" > "$work/serve.log" 2>&1 &
serve=$!
ok=""
for _ in $(seq 60); do
  if in_image "${health[@]}" 2>/dev/null; then ok=1; break; fi
  kill -0 $serve 2>/dev/null || break
  sleep 1
done
[ -n "$ok" ] || { echo "HEALTHCHECK never passed; serve's output:" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "HEALTHCHECK passed"
in_image python3 -c '
import json, urllib.request
with urllib.request.urlopen("http://127.0.0.1:8000/readyz", timeout=5) as r:
    body = json.load(r)
    assert r.status == 200 and body["status"] == "ready", (r.status, body)
    print("/readyz", r.status, body)'
kill $serve; wait $serve || true

in_image env FANGXIN_JOBS=/etc/fangxin/jobs.toml "${entry[@]}" worker > "$work/worker.log" 2>&1 &
worker=$!
runs() {
  in_image python3 -c '
import sqlite3, sys
db = sqlite3.connect("/var/lib/fangxin/fangxin.sqlite3")
rows = db.execute("SELECT outcome, count(*) FROM job_run WHERE job = ? GROUP BY outcome", ("certificate_sweep",)).fetchall()
print(dict(rows))
sys.exit(0 if rows and all(outcome == "ok" for outcome, _ in rows) else 1)'
}
ran=""
for _ in $(seq 90); do
  kill -0 $worker 2>/dev/null || break
  if grep -q "Fangxin worker running" "$work/worker.log" && runs > "$work/runs" 2>&1; then ran=1; break; fi
  sleep 1
done
sleep 3  # and it stays up
if [ -z "$ran" ] || ! kill -0 $worker 2>/dev/null; then
  echo "the worker ran no job, or stopped:" >&2; cat "$work/worker.log" "$work/runs" >&2; exit 1
fi
kill -TERM $worker; wait $worker || true
echo "worker: up, certificate_sweep runs by outcome: $(runs)"
INNER

step "passed; image $IMAGE: $(( size / 1000000 )) MB"
