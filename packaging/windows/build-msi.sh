#!/usr/bin/env bash
# Builds the Windows program and its installer on Linux:
#   1. siths-upgrade.exe: `cargo build --profile dist --target x86_64-pc-windows-gnu` (needs the
#      rustup target and Debian's gcc-mingw-w64-x86-64 and binutils-mingw-w64-x86-64);
#   2. siths-upgrade-<version>-x86_64.msi from packaging/windows/main.wxs with wixl (Debian's
#      wixl), the version taken from Cargo.toml.
# Prints the MSI's path as its last line.
#
# Usage: packaging/windows/build-msi.sh [--no-build] [--version X.Y.Z]
#   --no-build     package the exe already built (CI builds once and reuses it)
#   --version      another MSI version for the same exe (CI's check that a newer MSI replaces
#                  an older one)
set -euo pipefail
cd "$(dirname "$0")/../.."

build=1
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --version) version="$2"; shift ;;
    *) echo "build-msi.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

triple=x86_64-pc-windows-gnu
target_dir="${CARGO_TARGET_DIR:-target}"
exe="$target_dir/$triple/dist/siths-upgrade.exe"
if [ "$build" = 1 ]; then
  cargo build --profile dist --target "$triple" >&2
fi
[ -f "$exe" ] || { echo "build-msi.sh: $exe is missing; build it first" >&2; exit 1; }

if [ -z "$version" ]; then
  # `cargo pkgid` ends in "#0.1.0" or "@0.1.0".
  version="$(cargo pkgid | sed 's/.*[#@]//')"
fi
# An MSI's ProductVersion is numeric (major.minor.build): "0.2.0-rc.1" is packaged as 0.2.0.
msi_version="${version%%[-+]*}"

out_dir="$target_dir/windows"
mkdir -p "$out_dir"
msi="$out_dir/siths-upgrade-$version-x86_64.msi"
# wixl resolves sources relative to the working directory and refuses absolute paths.
rel() { realpath --relative-to=. "$1"; }
wixl --arch x64 \
  -D Version="$msi_version" \
  -D ExePath="$(rel "$exe")" \
  -D IconPath=assets/icons/siths-upgrade.ico \
  -D DocDir=. \
  -o "$msi" packaging/windows/main.wxs >&2
echo "$msi"
