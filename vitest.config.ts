import { defineConfig } from 'vitest/config';

// Two projects: unit tests run topologies in-process (no broker); integration tests get a real
// broker and schema registry from test/support/globalSetup.ts and fail, never skip, without one.
export default defineConfig({
  test: {
    reporters: process.env.CI ? ['verbose'] : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
        },
      },
      {
        // Kafka Streams' own DSL tests transcribed (test/conformance/README table lists differences).
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          // test/examples: the streams library's examples, run on the broker as another project would.
          include: ['test/integration/**/*.test.ts', 'test/examples/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          pool: 'forks',
          // One broker on two cores: integration files run one at a time, in one fork.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
