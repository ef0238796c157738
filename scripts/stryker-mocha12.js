// Preloaded (NODE_OPTIONS=--import) by `npm run mutate` only.
//
// Mocha 12 renamed the CLI internals that @stryker-mutator/mocha-runner 10.1.1 requires without an extension
// (`lib/cli/run-helpers`, `lib/cli/options`, `lib/cli/collect-files`) to `.cjs`, so the plugin fails to load
// ("Cannot find module .../mocha/lib/cli/run-helpers"). Upstream fix: stryker-js pull request 6205 (open when this was
// written). Until it is released, let extensionless `require` calls also try `.cjs`, loaded exactly as `.js` is.
// Delete this file and the NODE_OPTIONS in package.json's `mutate` script once the runner resolves `.cjs` itself.
import Module from 'node:module';

if (!Object.hasOwn(Module._extensions, '.cjs')) Module._extensions['.cjs'] = Module._extensions['.js'];
