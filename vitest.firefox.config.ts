import { defineConfig } from 'vitest/config';

// `npm run test:firefox` (scripts/test-firefox.sh): the real-Firefox suite alone. Its
// files end in .firefox.ts, so the default config (vitest.config.ts, `npm test`) never runs it.
export default defineConfig({
  test: {
    include: ['test/firefox/**/*.firefox.ts'],
    // Two Firefox runs of ~40 s, their shutdown, and the stack's start and stop, in one beforeAll.
    hookTimeout: 600_000,
    testTimeout: 30_000,
    pool: 'forks',
  },
});
