#!/usr/bin/env bash
# Assemble "SITHS-kortuppgradering.app" on macOS from a release build. NOT run in CI (needs
# macOS: iconutil and the Apple toolchain). Usage, from the repository root on a Mac:
#     bash packaging/macos/make-app.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --profile dist
app="target/macos/SITHS-kortuppgradering.app"
rm -rf "$app" && mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp target/dist/siths-upgrade "$app/Contents/MacOS/"
cp packaging/macos/Info.plist "$app/Contents/"
iconset="target/macos/siths-upgrade.iconset"
rm -rf "$iconset" && mkdir -p "$iconset"
for s in 16 32 128 256 512; do
  cp "assets/icons/siths-upgrade-$s.png" "$iconset/icon_${s}x${s}.png"
done
cp assets/icons/siths-upgrade-32.png "$iconset/icon_16x16@2x.png"
cp assets/icons/siths-upgrade-64.png "$iconset/icon_32x32@2x.png"
cp assets/icons/siths-upgrade-256.png "$iconset/icon_128x128@2x.png"
cp assets/icons/siths-upgrade-512.png "$iconset/icon_256x256@2x.png"
iconutil -c icns "$iconset" -o "$app/Contents/Resources/siths-upgrade.icns"
plutil -lint "$app/Contents/Info.plist"
echo "made $app (unsigned: sign and notarise it with your Apple developer identity)"
