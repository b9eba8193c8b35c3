/**
 * Jest runs as ESM (NestJS 12 ships ES modules only), hence `--experimental-vm-modules` in the
 * `test` scripts. Two projects:
 *
 * - `unit`: the specs beside the code under `src/`. They need no database and no global setup:
 *   `npm run test:unit` passes with no PostgreSQL reachable.
 * - `integration`: the specs under `test/`. Every test file gets a database of its own on one
 *   PostgreSQL server per run: the embedded one started by the global setup, or the server behind
 *   DATABASE_URL.
 *
 * @type {import('jest').Config}
 */
const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

export default {
  testTimeout: 60_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
      setupFiles: ['<rootDir>/test/setup/no-database.mjs'],
    },
    {
      ...shared,
      displayName: 'integration',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.spec.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.mjs',
      globalTeardown: '<rootDir>/test/setup/global-teardown.mjs',
    },
  ],
};
