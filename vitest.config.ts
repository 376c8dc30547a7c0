import { defineConfig } from 'vitest/config';

// Six suites: unit (no I/O), integration (real PostgreSQL/Kafka/Redis from infra/local), chart
// (the Helm chart rendered and checked, no cluster), alerts (the Prometheus rules under promtool),
// e2e (the public contract against the running stack), dashboards (their panel queries against
// the local Prometheus after load). `make test` runs all six.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.unit.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'chart',
          include: ['tests/chart/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'alerts',
          include: ['tests/alerts/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        test: {
          // Every panel query of every dashboard against the local Prometheus, after load
          // (make test: right after the k6 smoke scenario).
          name: 'dashboards',
          include: ['packages/*/test/**/*.prom.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
