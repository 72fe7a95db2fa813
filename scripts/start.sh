#!/usr/bin/env bash
# `npm start`: the whole stack on this machine, on a fresh clone too.
#   1. Node.js 24 LTS (scripts/ensure-node.sh: the project's own when the
#      system's is older), then `npm ci` when node_modules is missing or older
#      than package-lock.json.
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

# Node.js 24 LTS: the system's when it is 24.11 or newer, else the project's own
# (installed once from the npm registry into .tools/, then first on PATH).
source scripts/ensure-node.sh
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 24 || (a === 24 && b >= 11) ? 0 : 1)'; then
  log "Node.js $(node --version) is too old: 24.11 (the first Node 24 LTS) or newer is needed."
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
