#!/usr/bin/env bash
# The browser test's tools (tests/observability/inspector.rs): headless Chromium and
# chromedriver, from Debian's packages, and a CJK font for the screenshots
# (docs/inspector-*.png). Does nothing when they are there.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && fc-list 2>/dev/null | grep -qi "wenquanyi"; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-wqy-zenhei
