#!/usr/bin/env bash
# Tools the HTTP benchmarks need (bench/ingest-path.ts): wrk, the load
# generator (Debian package `wrk`). Installed with apt when missing and we are
# root on Debian/Ubuntu; nothing is fetched from anywhere else. Exits non-zero
# with a clear message when wrk is missing and cannot be installed.
set -euo pipefail

log() { printf '[ensure-bench-tools] %s\n' "$*" >&2; }

if command -v wrk >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "wrk is not installed and cannot be installed automatically (need root on Debian/Ubuntu): install the 'wrk' package."
  exit 1
fi
log "installing wrk with apt"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >&2; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >&2
fi
command -v wrk >/dev/null || { log "wrk still missing after apt-get install"; exit 1; }
