import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
          // scrypt-js at the real cost (p=5) runs ~1 s per hash: more than the 5 s default when the
          // integration project's workers share the CPU.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['tests/support/global-setup.ts'],
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Each file starts its own worker in workerd; two cores, so two at a time.
          maxWorkers: 2,
        },
      },
      {
        test: {
          // The client SDK (sdk/): its built package against the real built worker.
          name: 'sdk',
          globalSetup: ['tests/support/global-setup.ts', 'sdk/test/global-setup.ts'],
          include: ['sdk/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'e2e',
          globalSetup: ['tests/support/global-setup.ts'],
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
        },
      },
    ],
  },
})
