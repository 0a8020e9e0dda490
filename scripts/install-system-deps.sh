#!/usr/bin/env bash
# Debian packages the tests need and a fresh machine lacks: the libraries Qt's xcb platform loads
# (without them a real window crashes at start-up) and Xvfb for a window without a screen.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-cursor0
          libxkbcommon-x11-0 libegl1 libgl1 libpulse0 libfontconfig1 libdbus-1-3 xvfb xauth)
# --screenshots: also what it takes to look at tagger-gui without a screen: screenshots of the
# Xvfb screen (ImageMagick's import) and key presses into the window (xdotool).
[ "${1:-}" = --screenshots ] && packages+=(imagemagick xdotool)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
