#!/usr/bin/env bash
# Install Chromium from the Debian packages if it is missing: the report test renders the HTML
# report in headless Chromium. Progress goes to stderr.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium.sh: using $(chromium --version 2>/dev/null || echo chromium)" >&2
    exit 0
fi
echo "chromium.sh: installing chromium from the Debian packages" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq chromium >&2
command -v chromium >/dev/null 2>&1 || { echo "chromium.sh: chromium not found after install" >&2; exit 1; }
