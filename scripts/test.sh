#!/usr/bin/env bash
# `npm test`: sets itself up on a fresh machine (dependencies, RabbitMQ, Redis,
# xz), then type-checks, lints, checks imports (cycles, dead code, declared
# dependencies) and runs every test once.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node.js 24 LTS for everything below (the project's own, .tools/, when the system's is older).
source scripts/ensure-node.sh
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
npm run -s check:cycles   # madge: no import cycle (type imports count), .madgerc
npm run -s check:deps     # knip: no unused file/export/dependency, every import declared, knip.json
npx vitest run "$@"
