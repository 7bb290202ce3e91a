import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code they test; e2e/ starts real processes (control plane, delegates,
// moto_server) from the built packages, so `npm test` builds first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{control-plane,delegate,proto,cli}/src/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/src/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes and fixed resources (moto_server): one file at a time keeps ports and CPU sane on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
