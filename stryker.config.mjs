import process from 'node:process';

// Mutation testing (StrykerJS): `npm run mutate`, or one file at a time with `npm run mutate -- --mutate <file>`.
// It stays out of CI (too slow for every push); docs/mutation.md lists the equivalent survivors and the README the
// latest score per module.
//
// Only in-process tests run against the mutants: unit, property and controller-level tests with the recording provider
// and a real SQLite file. The end-to-end, Slurm, infra and emulator suites are left out: they are slow, and the Slurm
// ones build fixed network namespaces that collide with other runs.

/** The modules where a bug costs money or machines (issue 14, build item 1). */
const MODULES = [
  'src/autoscaler/planner*.ts',
  'src/autoscaler/scale-down.ts',
  'src/autoscaler/reconcile.ts',
  'src/autoscaler/provisioner.ts',
  'src/autoscaler/controller.ts',
  'src/cost-model/apportion.ts',
  'src/cost-model/attribution.ts',
  'src/cost-model/billing.ts',
  'src/cost-model/budget*.ts',
  'src/cost-model/chargeback.ts',
  'src/cost-model/ledger.ts',
  'src/cost-model/lower-bound.ts',
  'src/cost-model/preemption.ts',
  'src/core/credentials.ts',
  'src/pool/builtin/registry.ts',
  'src/api/auth.ts',
  'src/providers/aws-ec2/ec2-errors.ts',
  'src/providers/gcp-compute/gce-errors.ts',
];

/** In-process tests only. */
const ALL_TESTS = [
  'test/cost-model/*.test.ts',
  'test/autoscaler/*.test.ts',
  'test/core/*.test.ts',
  'test/store/budgets.test.ts',
  'test/store/ledger.test.ts',
  // Unit tests of the API's auth and the providers' error translation (the rest of those suites are end to end).
  'test/api/auth.test.ts',
  'test/providers/aws-ec2/ec2-errors.test.ts',
  'test/providers/gcp-compute/gce-errors.test.ts',
  // The builtin pool's registry, on a real SQLite file.
  'test/pool/registry*.test.ts',
];

/**
 * MUTATE_TESTS (comma-separated globs) narrows the tests for a quick look at one module: a mutant only those tests kill
 * still counts, one only the others would kill counts as survived, so a narrowed score is never above the full one.
 */
const TESTS = process.env.MUTATE_TESTS ? process.env.MUTATE_TESTS.split(',').map((t) => t.trim()) : ALL_TESTS;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'mocha',
  mochaOptions: {
    config: '.mocharc.json',
    spec: TESTS,
  },
  // MUTATE_NO_TYPECHECK=1 skips the TypeScript checker (one more test runner instead): quicker where tests are fast,
  // but a mutant that would not compile then counts as killed or survived instead of being left out.
  checkers: process.env.MUTATE_NO_TYPECHECK ? [] : ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: MODULES,
  // Static mutants (module-level constants) would need a fresh process per mutant with every test: skipped.
  ignoreStatic: true,
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: never more than two test processes.
  concurrency: 2,
  timeoutMS: 20000,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
