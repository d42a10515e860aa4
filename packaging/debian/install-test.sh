#!/usr/bin/env bash
# CI's install test of the Debian package: install it with apt like an IT department would, run
# the installed program against the virtual card through a real pcscd, then remove it and check
# that nothing of it is left. Needs root. Usage: packaging/debian/install-test.sh PACKAGE.deb
set -euo pipefail
deb="$(realpath "$1")"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

apt-get install -y -qq "$deb"
test -x /usr/bin/siths-upgrade
dpkg -L siths-upgrade > "$work/files"
for f in /usr/share/applications/se.sithsupgrade.SithsUpgrade.desktop \
         /usr/share/metainfo/se.sithsupgrade.SithsUpgrade.metainfo.xml \
         /usr/share/icons/hicolor/256x256/apps/se.sithsupgrade.SithsUpgrade.png \
         /usr/share/man/man1/siths-upgrade.1.gz; do
  grep -qx "$f" "$work/files" || { echo "install test: $f is not in the package"; exit 1; }
done

version="$(/usr/bin/siths-upgrade --version)"
echo "installed: $version"
[[ "$version" =~ ^siths-upgrade\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{12}(-modified)?\)$ ]] \
  || { echo "install test: --version does not name the version and the commit: $version"; exit 1; }

# The virtual card through a real pcscd with the vpcd driver, as on a tester's machine.
/usr/bin/siths-upgrade virtual-card init --state "$work/card.json" > /dev/null
# The system's pcscd is the one at /run/pcscd (a pcscd in some test's own namespaces, which
# pgrep would also see, serves nobody here).
if [ -S /run/pcscd/pcscd.comm ]; then
  echo "install test: using the running pcscd"
else
  pcscd --foreground > "$work/pcscd.log" 2>&1 &
  pids+=($!)
fi
/usr/bin/siths-upgrade virtual-card serve --state "$work/card.json" > "$work/serve.log" 2>&1 &
pids+=($!)
status=""
for _ in $(seq 1 100); do
  if status="$(/usr/bin/siths-upgrade status --json 2> "$work/status.err")"; then break; fi
  sleep 0.2
done
echo "$status" | grep -q '"serial"' || {
  echo "install test: status --json did not read the virtual card"
  cat "$work/status.err" "$work/serve.log"
  exit 1
}
echo "$status" | grep -q '"pin1"' || { echo "install test: no PIN counters in: $status"; exit 1; }
echo "status --json read the virtual card through pcscd"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
apt-get purge -y -qq siths-upgrade
if dpkg -s siths-upgrade > /dev/null 2>&1; then
  echo "install test: the package is still installed"; exit 1
fi
left=0
while read -r f; do
  if [ -f "$f" ]; then echo "install test: left behind: $f"; left=1; fi
done < "$work/files"
[ "$left" = 0 ] || exit 1
echo "install test: installed, ran and removed cleanly"
