// @ts-check
/**
 * The module's layers, held by dependency-cruiser in `npm run lint` (`npm run lint:layers`):
 *
 *   core/      constants, option checks, validation rules, keyset cursor: imports no other folder
 *   writer/    the generic batched writer: imports core/ only
 *   entities/, migrations/: import core/ only
 *   features   (audit/, llm-usage/, ledger/, retention/): import core/, writer/ and entities/,
 *              never each other
 *   dashboard/ the page a host mounts, above the features: imports core/ and the public read
 *              services of the features (DASHBOARD_READS), nothing else; no feature imports it
 *   the root   (logging.module.ts, logging.options.ts, ..., index.ts) composes them all
 *
 * and no import cycle anywhere, type-only imports included. test/layers.spec.ts plants a
 * violation of each kind and checks that this configuration refuses it.
 */
const FEATURES = [
  'audit',
  'llm-usage',
  'ledger',
  'retention',
  'rollups',
  'seals',
  'partitions',
];
const features = FEATURES.join('|');

/**
 * Files that still import the request context or the metadata policy from audit/, until both
 * move into core/; they may reach those files of audit/ and nothing else of another feature.
 */
/** What dashboard/ may read of the features: their public services, never their internals. */
const DASHBOARD_READS =
  '^src/logging/(audit/(audit-trail|audit-log)[.]service|llm-usage/llm-usage-report[.]service)[.]ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle, type-only imports included.',
      severity: 'error',
      from: { path: '^src/logging/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-no-feature',
      comment:
        'core/ is the bottom layer: it imports nothing else of the module.',
      severity: 'error',
      from: { path: '^src/logging/core/' },
      to: { path: '^src/logging/', pathNot: '^src/logging/core/' },
    },
    {
      name: 'writer-imports-core-only',
      comment:
        'writer/ is generic: each feature registers its table; it knows none of them.',
      severity: 'error',
      from: { path: '^src/logging/writer/' },
      to: { path: '^src/logging/', pathNot: '^src/logging/(core|writer)/' },
    },
    {
      name: 'schema-imports-core-only',
      comment:
        'entities/ and migrations/ describe tables; they import core/ only.',
      severity: 'error',
      from: { path: '^src/logging/(entities|migrations)/' },
      to: {
        path: '^src/logging/',
        pathNot: '^src/logging/(core|entities|migrations)/',
      },
    },
    {
      name: 'features-apart',
      comment:
        'A feature imports core/, writer/ and entities/, never another feature.',
      severity: 'error',
      from: { path: `^src/logging/(${features})/` },
      to: {
        path: '^src/logging/',
        pathNot: `^src/logging/($1|core|writer|entities)/`,
      },
    },
    {
      name: 'dashboard-reads-public-services',
      comment:
        'dashboard/ sits above the features: it imports core/ and their public read services only.',
      severity: 'error',
      from: { path: '^src/logging/dashboard/' },
      to: {
        path: '^src/logging/',
        pathNot: ['^src/logging/(core|dashboard)/', DASHBOARD_READS],
      },
    },
    {
      name: 'nothing-imports-dashboard',
      comment: 'The dashboard is optional: the module works without it.',
      severity: 'error',
      from: { path: '^src/logging/', pathNot: '^src/logging/dashboard/' },
      to: { path: '^src/logging/dashboard/' },
    },
    {
      name: 'module-is-self-contained',
      comment: 'The module never imports host code, tests or benches.',
      severity: 'error',
      from: { path: '^src/logging/' },
      to: { path: '^(src/(?!logging/)|test/|bench/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '[.]spec[.]ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
