import { defineConfig } from 'vitest/config';

// `npm run test:chaos`: the reliability suite (kill storms, malformed input, tenant isolation)
// against real processes. Separate from `npm test` because it runs for minutes; sizes come from
// CHAOS_* variables so a laptop or a busy CI box can shrink them.
export default defineConfig({
  test: {
    name: 'chaos',
    include: ['e2e/src/chaos/*.chaos.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
