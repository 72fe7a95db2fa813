#!/usr/bin/env bash
# The dashboard's browser tests drive Debian's Chromium with playwright-core
# (never a downloaded browser). Installs it when missing and we are root on Debian.
set -euo pipefail
if command -v chromium >/dev/null || [ -x "${CHROMIUM_PATH:-/nonexistent}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[ensure-chromium] chromium is missing: install Debian's chromium package (or set CHROMIUM_PATH)." >&2
  exit 1
fi
echo "[ensure-chromium] installing chromium with apt" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
