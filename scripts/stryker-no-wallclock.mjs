// `npm run mutate -- scripts/stryker-no-wallclock.mjs --mutate <file>`: stryker.config.mjs, less the planner's
// wall-clock test ("plans 20,000 tasks ... within seconds", which fails under instrumentation and so stops the
// initial test run), and with a 1.5 s timeout margin: the planner's greedy loops for ever under many mutants, and each
// timeout costs a test runner restart. Used by run L in docs/mutation.md.
import base from '../stryker.config.mjs';

export default {
  ...base,
  timeoutMS: 1500,
  mochaOptions: { ...base.mochaOptions, grep: '^(?!.*within seconds)' },
};
