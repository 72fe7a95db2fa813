#!/usr/bin/env bash
# `npm test`: sets itself up on a fresh machine (dependencies, RabbitMQ, Redis,
# xz), then type-checks, lints and runs every test once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-services.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-deploy-tools.sh
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p scripts
npx tsc --noEmit -p deploy
npx eslint --max-warnings 0 .
npx vitest run "$@"
