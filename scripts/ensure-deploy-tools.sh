#!/usr/bin/env bash
# Optional tools for the deploy-file tests, installed with apt when missing
# (root on Debian/Ubuntu). Best effort: without one, only the check that
# needs it is skipped, never failed.
#   docker-compose (Debian's Compose v1): test/deploy.test.ts checks
#     deploy/compose.yaml with `docker-compose config` when no Compose v2 plugin exists;
#   promtool (Debian's `prometheus` package): test/observability.test.ts runs
#     `promtool check rules` and `promtool test rules` on deploy/observability/.
set -uo pipefail

apt_install() { # package purpose
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "[ensure-deploy-tools] no $1 (and no apt as root to install it): $2 will be skipped" >&2
    return 0
  fi
  echo "[ensure-deploy-tools] installing $1 with apt (for $2)" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2; }; }; then
    echo "[ensure-deploy-tools] could not install $1: $2 will be skipped" >&2
  fi
}

if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  apt_install docker-compose "the compose config check"
fi
if ! command -v promtool >/dev/null; then
  apt_install prometheus "the Prometheus rules check"
fi
exit 0
