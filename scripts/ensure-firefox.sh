#!/usr/bin/env bash
# The real-Firefox suite (`npm run test:firefox`) drives Debian's Firefox ESR in a
# network namespace and forwards Glean's localhost port out of it with socat.
# Installs both when missing and we are root on Debian (Debian's packages only).
# Exits 1 with a message when they cannot be had: the suite then skips, saying why.
set -euo pipefail
log() { printf '[ensure-firefox] %s\n' "$*" >&2; }
missing=()
if ! command -v firefox-esr >/dev/null && ! command -v firefox >/dev/null && ! [ -x "${FIREFOX_PATH:-/nonexistent}" ]; then missing+=(firefox-esr); fi
command -v socat >/dev/null || missing+=(socat)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "missing: ${missing[*]}; install Debian's package(s) (or set FIREFOX_PATH)."
  exit 1
fi
log "installing ${missing[*]} with apt"
DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || log "apt-get update failed; trying the install anyway"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  log "apt-get install ${missing[*]} failed."
  exit 1
fi
