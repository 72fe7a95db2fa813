#!/usr/bin/env bash
# `npm start`: the whole stack on this machine, on a fresh clone too.
#   1. Node.js check, then `npm ci` when node_modules is missing or older than
#      package-lock.json.
#   2. The optional .env (or ENV_FILE): variables the real environment does
#      not set are exported, so the service checks below see them too.
#   3. scripts/ensure-services.sh: RabbitMQ and Redis reachable (started or
#      installed on loopback when local), xz present; else a clear message.
#   4. exec the supervisor (scripts/start.ts, process title telemetry-start):
#      gateway, workers and (when present) stats as child processes.
# Set-up messages go to stderr; stdout carries the apps' JSON logs only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[start] %s\n' "$*" >&2; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "Node.js 20.19 or newer (with npm) is needed: https://nodejs.org or your package manager."
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  log "Node.js $(node --version) is too old: 20.19 or newer is needed."
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

env_exports=$(node --import tsx scripts/supervisor/env-file-cli.ts)
eval "$env_exports"

bash scripts/ensure-services.sh

exec node --import tsx scripts/start.ts "$@"
