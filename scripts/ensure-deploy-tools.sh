#!/usr/bin/env bash
# Optional tools for test/deploy.test.ts: Debian's docker-compose (Compose v1)
# checks deploy/compose.yaml with `docker-compose config` when no Compose v2
# plugin exists. Best effort: without it that one check is skipped, never failed.
set -uo pipefail
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[ensure-deploy-tools] no docker compose client: the compose config check will be skipped" >&2
  exit 0
fi
echo "[ensure-deploy-tools] installing docker-compose with apt (for the compose config check)" >&2
if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >&2 \
  || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >&2; }; }; then
  echo "[ensure-deploy-tools] could not install docker-compose: the compose config check will be skipped" >&2
fi
exit 0
