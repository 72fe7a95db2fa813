#!/usr/bin/env bash
# `npm run test:firefox`: the real-Firefox suite (test/firefox/*.firefox.ts,
# vitest.firefox.config.ts), on a fresh clone too: Node.js 24, dependencies,
# RabbitMQ and Redis as for `npm test`, then Firefox ESR and socat
# (scripts/ensure-firefox.sh). Without Firefox, socat or network namespaces
# (root, iproute2) the suite skips and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-services.sh
bash scripts/ensure-firefox.sh || echo '[test:firefox] Firefox ESR or socat is not available: the suite will skip' >&2
exec npx vitest run --config vitest.firefox.config.ts "$@"
