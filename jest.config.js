/**
 * Jest runs as ESM (NestJS 12 ships ES modules only), hence `--experimental-vm-modules` in the
 * `test` scripts. Two projects:
 *
 * - `unit`: the specs beside the code under `src/`. They need no database and no global setup:
 *   `npm run test:unit` passes with no PostgreSQL reachable.
 * - `integration`: the specs under `test/`. Every test file gets a database of its own on one
 *   PostgreSQL server per run: the embedded one started by the global setup, or the server behind
 *   DATABASE_URL.
 * - `partitioned`: the specs whose subject differs between the two layouts of the logs, again, on
 *   logs partitioned by month (docs/partitions.md): the schema, the append-only guarantees, the
 *   seals and their archives, the rollups, the writer, the reports and the dashboard's API. (test/partitions.spec.ts
 *   holds what only that layout has, the trail's pages across months among it.)
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

/** The specs the `partitioned` project runs a second time, on the partitioned layout. */
const PARTITIONED_SPECS = [
  'schema',
  'schema-diff',
  'append-only',
  'database-roles',
  'rollups',
  'seals',
  'seals-erasure',
  'seals-late',
  'seals-time',
  'seal-archive',
  'writer',
  'usage-reports',
  'dashboard-api',
];

const integration = {
  ...shared,
  roots: ['<rootDir>/test'],
  globalSetup: '<rootDir>/test/setup/global-setup.mjs',
  globalTeardown: '<rootDir>/test/setup/global-teardown.mjs',
};

export default {
  testTimeout: 60_000,
  // Two test files at a time, whatever the cores: most of a spec's time is spent waiting on
  // PostgreSQL and on the processes it starts, so two overlap on a two-core machine, where Jest's
  // default (cores − 1) would run them one by one.
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
      setupFiles: ['<rootDir>/test/setup/no-database.mjs'],
    },
    { ...integration, displayName: 'integration', testMatch: ['**/*.spec.ts'] },
    {
      ...integration,
      displayName: 'partitioned',
      testMatch: PARTITIONED_SPECS.map((spec) => `**/test/${spec}.spec.ts`),
      setupFiles: ['<rootDir>/test/setup/partitioned-layout.mjs'],
    },
  ],
};
