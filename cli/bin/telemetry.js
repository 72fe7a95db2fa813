#!/usr/bin/env node
// The `telemetry` command. The project runs its TypeScript directly through
// tsx (no build step), so `npx telemetry` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
