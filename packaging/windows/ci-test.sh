#!/usr/bin/env bash
# CI for Windows (packaging/README.md): build siths-upgrade.exe and its MSI once, install the MSI
# under Wine, run the installed program (everything but PC/SC, which Wine 8 cannot reach), check
# that a newer MSI replaces it, uninstall it and check that nothing of it is left.
#
# Needs root for apt-get on a fresh machine. Leaves nothing running: the CA mock and the private
# Wine prefix's wineserver are stopped, the prefix deleted. Ends with "windows: N passed, N failed"
# and a non-zero exit status when any check failed. KEEP_WORK=1 keeps its work directory (logs,
# the Wine prefix) for a look.
set -euo pipefail
cd "$(dirname "$0")/../.."

# ---- tools -------------------------------------------------------------------------------------
# mingw: the C toolchain and windres for the Windows target; wixl/msitools: build and read the
# MSI; wine64: runs it; curl, openssl and jq: the checks; Xvfb and lavapipe (Vulkan on the CPU,
# which Wine passes through): the window.
need=(gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wixl msitools wine64 curl openssl jq
      xvfb libvulkan1 mesa-vulkan-drivers)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1 ||
  rustup target list --installed | grep -x x86_64-pc-windows-gnu >/dev/null
wine="$(command -v wine64 || echo /usr/lib/wine/wine64)"
wineserver="$(command -v wineserver || echo /usr/lib/wine/wineserver)"

# ---- the one build (the exe, then the MSI around it) ---------------------------------------------
version="$(cargo pkgid | sed 's/.*[#@]//')"
msi="$(packaging/windows/build-msi.sh)"
exe_built="${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-gnu/dist/siths-upgrade.exe"

work="$(mktemp -d /tmp/siths-windows-ci.XXXXXX)"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
  for pid in serve demo xvfb; do
    if [ -s "$work/$pid.pid" ]; then kill "$(cat "$work/$pid.pid")" 2>/dev/null || true; fi
  done
  if [ -d "$WINEPREFIX" ]; then "$wineserver" -k >/dev/null 2>&1 || true; fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

pf="$WINEPREFIX/drive_c/Program Files/siths-upgrade"
exe="$pf/siths-upgrade.exe"
run="$work/run"
mkdir -p "$run"
uninstall_key='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
# The first test person of ca-mock init (assets/test-persons.json): Karin Åström, pre-upgrade.
person=TST5565594230-1001

win() { (cd "$run" && "$wine" "$exe" "$@"); }
# Test only: Wine 8 lacks bcryptprimitives.dll (Rust's std needs its ProcessPrng); a stand-in
# goes beside a Windows program for the run under Wine, never into the MSI.
shim() {
  x86_64-w64-mingw32-gcc -O2 -shared -o "$1/bcryptprimitives.dll" \
    packaging/windows/wine/bcryptprimitives.c packaging/windows/wine/bcryptprimitives.def -ladvapi32
}
fail() { echo "$*" >&2; return 1; }
# The installed products' uninstall entries, "name version" per line.
uninstall_entries() {
  "$wine" reg query "$uninstall_key" /s 2>/dev/null | tr -d '\r' | awk '
    /^HKEY/ { name = ""; ver = "" }
    $1 == "DisplayName" { $1 = ""; $2 = ""; name = substr($0, 3) }
    $1 == "DisplayVersion" { ver = $3 }
    name != "" && ver != "" { print name, ver; name = ""; ver = "" }'
}

# ---- the checks: each runs with `set -e` in a subshell; state between them is in $work ---------
# (Under pipefail, `cmd | grep -q` fails when grep exits before cmd has written everything: piped
# greps here read their whole input, `grep … >/dev/null`.)
check_msi() {
  # What the MSI says, read back from its tables.
  msiinfo export "$msi" Property >"$work/prop"
  grep -qP "^ProductVersion\t${version%%[-+]*}\r?$" "$work/prop" || fail "ProductVersion is not $version"
  grep -qP "^UpgradeCode\t\{6E0C3B8E-5B41-4C7A-9C1E-2B7D4A3F9E51\}\r?$" "$work/prop" || fail "UpgradeCode changed"
  grep -qP "^ALLUSERS\t1\r?$" "$work/prop" || fail "not a per-machine install"
  msiinfo export "$msi" Shortcut | grep -P "\tProgramMenuFolder\tSITHS-kortuppgradering\t.*\tProductIcon\t" >/dev/null ||
    fail "no Start-menu shortcut with the icon"
  msiinfo export "$msi" Directory | grep -P "^INSTALLDIR\tProgramFiles64Folder\tsiths-upgrade\r?$" >/dev/null ||
    fail "not installed under Program Files"
  msiinfo export "$msi" File | tail -n +4 | cut -f3 | tr -d '\r' | sort >"$work/files"
  printf '%s\n' CHANGELOG.md README.md siths-upgrade.exe | diff - "$work/files" || fail "unexpected files in the MSI"
  # The exe carries its resource: manifest (DPI, UTF-8) and version information.
  x86_64-w64-mingw32-objcopy -O binary --only-section=.rsrc "$exe_built" "$work/rsrc"
  grep -q PerMonitorV2 "$work/rsrc" || fail "no DPI awareness in the exe's manifest"
  grep -q '>UTF-8<' "$work/rsrc" || fail "no UTF-8 code page in the exe's manifest"
  x86_64-w64-mingw32-strings -a -el "$work/rsrc" >"$work/rsrc.txt"
  grep -qx SITHS-kortuppgradering "$work/rsrc.txt" || fail "no product name in the exe"
  grep -qx "$version" "$work/rsrc.txt" || fail "no version information in the exe"
}

check_install() {
  "$wine" wineboot --init >/dev/null 2>&1 || true
  "$wine" msiexec /i "$(realpath "$msi")" /qn
  [ -f "$exe" ] || fail "not installed in Program Files"
  # Wine puts a per-machine install's shortcut in the user's Start menu (Windows uses the all
  # users' one): accept either.
  lnk="$(find "$WINEPREFIX/drive_c" -path '*/Start Menu/Programs/SITHS-kortuppgradering.lnk' -print -quit)"
  [ -n "$lnk" ] || fail "no Start-menu shortcut"
  x86_64-w64-mingw32-strings -a "$lnk" | grep -F 'C:\Program Files\siths-upgrade\siths-upgrade.exe' >/dev/null ||
    fail "the shortcut does not start the program"
  uninstall_entries | grep -x "SITHS-kortuppgradering ${version%%[-+]*}" >/dev/null || fail "no uninstall entry"
  # The stand-in for the run; removed before the uninstall.
  shim "$pf"
}

check_version() {
  out="$(win --version)"
  echo "$out"
  [[ "$out" == "siths-upgrade $version (commit "* ]] || fail "unexpected --version: $out"
}

check_paths() {
  # The desk's default audit log is in %LOCALAPPDATA%, not in an XDG folder.
  if win audit verify >"$work/audit.out" 2>&1; then fail "audit verify found a log in a new prefix"; fi
  grep -qF 'AppData\Local\siths-upgrade\audit.log' "$work/audit.out" || fail "$(cat "$work/audit.out")"
}

check_virtual_card() {
  win virtual-card init --state card.json
  [ -s "$run/card.json" ] || fail "no card.json"
  [ -s "$run/card.pins" ] || fail "no card.pins"
  win --virtual-card card.json status --json >"$work/status.json"
  jq -e '.holder.hsa_id == "TST5565594230-1001" and .card_dead == false
         and ([.certificates[].slot] == [1, 5])
         and .pins.pin1.tries_left == 3 and .pins.puk.tries_left == 10' "$work/status.json" >/dev/null ||
    fail "unexpected status: $(cat "$work/status.json")"
}

check_ca_mock() {
  win ca-mock init --dir ca
  [ -s "$run/ca/root.pem" ] || fail "ca-mock init made no root"
  [ -s "$run/ca/cards/$person.json" ] || fail "ca-mock init made no card for $person"
  # Port 0: the system picks a free port; the mock prints its address.
  (cd "$run" && exec "$wine" "$exe" ca-mock serve --dir ca --listen 127.0.0.1:0 >"$work/serve.log" 2>&1) &
  echo $! >"$work/serve.pid"
  for _ in $(seq 100); do
    grep -q '^CA mock listening on https://' "$work/serve.log" && break
    kill -0 "$(cat "$work/serve.pid")" 2>/dev/null || fail "ca-mock serve stopped: $(cat "$work/serve.log")"
    sleep 0.2
  done
  url="$(sed -n 's|^CA mock listening on \(https://[0-9.:]*\).*|\1|p' "$work/serve.log" | tr -d '\r')"
  [ -n "$url" ] || fail "ca-mock serve did not start: $(cat "$work/serve.log")"
  echo "$url" >"$work/url"
  # An independent client: curl fetches a profile's EST CA certificates over TLS, trusting only
  # the mock's root.
  curl -sS --fail --cacert "$run/ca/root.pem" "$url/.well-known/est/hsa-auth/cacerts" |
    base64 -d >"$work/cacerts.p7"
  openssl pkcs7 -inform DER -in "$work/cacerts.p7" -print_certs | grep 'HSA-id 3 CA' >/dev/null ||
    fail "EST cacerts lack the HSA-id issuing CA"
}

check_upgrade() {
  url="$(cat "$work/url")"
  pins="$run/ca/cards/$person.pins"
  # PIN1 then PIN2 on stdin, straight from the .pins file: never on a command line or in the log.
  sed -n -e 's/^PIN1=//p' "$pins" >"$work/stdin"
  sed -n -e 's/^PIN2=//p' "$pins" >>"$work/stdin"
  win --virtual-card "ca/cards/$person.json" upgrade --ca "$url" --ca-root ca/root.pem --pin-stdin \
    <"$work/stdin" >"$work/upgrade.log" 2>&1 || fail "upgrade failed: $(cat "$work/upgrade.log")"
  rm -f "$work/stdin"
  grep -q '^Upgrade finished: 4 new certificate' "$work/upgrade.log" || fail "$(cat "$work/upgrade.log")"
  win --virtual-card "ca/cards/$person.json" status --json >"$work/after.json"
  # The four new certificates in their profile slots, trust level 3, the legacy pair gone.
  jq -e '[.certificates[] | [.slot, .identity_type, .purpose, .trust_level]] ==
         [[2, "hsa-id", "authentication", 3], [3, "personnummer", "authentication", 3],
          [6, "hsa-id", "signature", 3], [7, "personnummer", "signature", 3]]
         and ([.certificates[].error] | all(. == null))' "$work/after.json" >/dev/null ||
    fail "unexpected status after the upgrade: $(cat "$work/after.json")"
  kill "$(cat "$work/serve.pid")"
  rm -f "$work/serve.pid"
}

check_window() {
  # The demo's window on a private X server. Wine's Direct3D 12 cannot compile wgpu's shaders
  # (no FXC), so wgpu is told to use Vulkan, which Wine hands to the host's lavapipe; on Windows
  # wgpu's own choice stands.
  Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$work/display" >/dev/null 2>&1 &
  echo $! >"$work/xvfb.pid"
  for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
  [ -s "$work/display" ] || fail "Xvfb did not start"
  # The prefix's desktop was started without a display; a new session starts one on Xvfb.
  "$wineserver" -k
  (cd "$run" && DISPLAY=":$(cat "$work/display")" WGPU_BACKEND=vulkan \
    RUST_LOG=warn,siths_upgrade::startup=info exec "$wine" "$exe" demo >"$work/demo.log" 2>&1) &
  echo $! >"$work/demo.pid"
  # The window draws at once; its worker meanwhile makes the demo's CA world (an RSA-4096 root:
  # seconds, more on a busy machine) and caches it in %LOCALAPPDATA%.
  cache() {
    find "$WINEPREFIX/drive_c/users" -maxdepth 7 -type d -path '*/AppData/Local/siths-upgrade/cache/demo-ca-*'
  }
  for _ in $(seq 600); do
    grep -q 'first frame drawn' "$work/demo.log" && [ -n "$(cache)" ] && break
    kill -0 "$(cat "$work/demo.pid")" 2>/dev/null || break
    sleep 0.2
  done
  grep -v '^ ' "$work/demo.log"
  grep -q 'first frame drawn' "$work/demo.log" || fail "no window"
  [ -n "$(cache)" ] || fail "no demo CA world in %LOCALAPPDATA%"
  # Closed as a user closes it (WM_CLOSE), the demo ends cleanly and removes its temp copy.
  demo_pid="$(cat "$work/demo.pid")"
  "$wine" taskkill /im siths-upgrade.exe
  for _ in $(seq 100); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$demo_pid" 2>/dev/null; then fail "the demo still runs 20 s after its window was closed"; fi
  wait "$demo_pid" || fail "the demo ended with status $? when its window was closed"
  rm -f "$work/demo.pid"
  [ -z "$(find "$WINEPREFIX/drive_c/users" -maxdepth 4 -name 'siths-upgrade-demo-*')" ] ||
    fail "the demo left its temp copy"
  # The next commands start a session without a display again.
  "$wineserver" -k
  kill "$(cat "$work/xvfb.pid")"
  rm -f "$work/xvfb.pid"
}

check_major_upgrade() {
  # The same exe packaged as the next patch version replaces the installed one; the older MSI
  # is then refused.
  IFS=. read -r major minor patch <<<"${version%%[-+]*}"
  newer="$major.$minor.$((patch + 1))"
  newer_msi="$(packaging/windows/build-msi.sh --no-build --version "$newer")"
  "$wine" msiexec /i "$(realpath "$newer_msi")" /qn
  [ "$(uninstall_entries | grep -c '^SITHS-kortuppgradering ')" = 1 ] || fail "$(uninstall_entries)"
  uninstall_entries | grep -x "SITHS-kortuppgradering $newer" >/dev/null || fail "$(uninstall_entries)"
  if "$wine" msiexec /i "$(realpath "$msi")" /qn; then fail "the older MSI installed over the newer"; fi
  uninstall_entries | grep -x "SITHS-kortuppgradering $newer" >/dev/null || fail "$(uninstall_entries)"
  win --version | grep -F "siths-upgrade $version" >/dev/null || fail "the program is gone after the upgrade"
  echo "$newer_msi" >"$work/installed.msi"
}

check_uninstall() {
  rm -f "$pf/bcryptprimitives.dll"
  installed="$(cat "$work/installed.msi")"
  "$wine" msiexec /x "$(realpath "$installed")" /qn
  rm -f "$installed"
  [ ! -e "$pf" ] || fail "left behind: $(find "$pf")"
  # Anything of the program's: files, shortcut, the installer's cache (the users' own data in
  # AppData stays, as on Windows).
  left="$(find "$WINEPREFIX/drive_c" -iname '*siths*' -not -path '*/AppData/Local/siths-upgrade*')"
  [ -z "$left" ] || fail "left behind: $left"
  if uninstall_entries | grep '^SITHS-kortuppgradering ' >/dev/null; then fail "uninstall entry left"; fi
  if "$wine" reg query 'HKLM\Software\siths-upgrade' >/dev/null 2>&1; then fail "registry key left"; fi
}

check_unit_tests() {
  # The library's unit tests built for Windows with the same profile as the exe (so they reuse
  # its dependencies) and run under Wine: the Windows side of the file paths, the owner-only
  # files and the audit log's locks among them.
  cargo test --profile dist --target x86_64-pc-windows-gnu --lib --no-run --message-format=json \
    >"$work/unit-build.json" 2>"$work/unit-build.log" || fail "$(tail -30 "$work/unit-build.log")"
  tests_exe="$(jq -rs 'map(select(.reason == "compiler-artifact" and .profile.test
                                 and (.target.kind | index("lib")))) | .[0].executable' \
    "$work/unit-build.json")"
  [ -f "$tests_exe" ] || fail "no unit-test program built"
  mkdir -p "$work/unit"
  cp "$tests_exe" "$work/unit/unit-tests.exe"
  shim "$work/unit"
  if ! (cd "$work/unit" && "$wine" ./unit-tests.exe) >"$work/unit.log" 2>&1; then
    grep -E '^test .* FAILED$|^test result' "$work/unit.log" >&2 || true
    fail "unit tests failed under Wine"
  fi
  grep -E '^test result: ok\. [0-9]+ passed; 0 failed' "$work/unit.log"
}

passed=0
failed=0
skipped=0
for check in msi install version paths virtual_card ca_mock upgrade window major_upgrade uninstall \
  unit_tests; do
  if [ "$failed" -gt 0 ]; then
    # Each check builds on the ones before it.
    echo "windows: SKIP $check"
    skipped=$((skipped + 1))
    continue
  fi
  start=$SECONDS
  set +e
  (
    set -eE
    trap 'echo "failed: $BASH_COMMAND (line $LINENO)" >&2' ERR
    "check_$check"
  ) >"$work/$check.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 0 ]; then
    echo "windows: ok   $check ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  else
    echo "windows: FAIL $check ($((SECONDS - start)) s):"
    sed 's/^/    /' "$work/$check.log"
    failed=$((failed + 1))
  fi
done

echo "windows: the whole Windows test took $SECONDS s"
summary="windows: $passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" = 0 ]
