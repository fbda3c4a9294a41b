import { defineConfig } from 'vitest/config';

// Three groups, all run by `npm test` (vitest run); one alone with `vitest run --project <name>`.
// test/contract holds suites, not test files: unit and integration files import and run them.
// every project first installs the command-line tools its tests spawn (scripts/ensure-deps.sh)
const tools = 'test/helpers/tools-setup.ts';
const brokers = {
  // then starts (or finds) RabbitMQ, the Kafka mock cluster and s3rver once per vitest run
  globalSetup: [tools, 'test/helpers/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    // the AWS SDK warns on every client that Node 20 support ends in 2027: noise in test output
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], globalSetup: [tools] },
      },
      {
        extends: true,
        // the Kafka test broker's own tests sit beside it, in test/brokers/kafka-mock/
        test: { name: 'integration', include: ['test/integration/**/*.test.ts', 'test/brokers/**/*.test.ts'], ...brokers },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], ...brokers },
      },
    ],
  },
});
