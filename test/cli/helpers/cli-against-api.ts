import assert from 'node:assert/strict';
import { after, before } from 'mocha';
import { startApiHarness, type ApiHarness } from '../../helpers/api-harness.ts';
import { killRunningClis, runCliProcess, tempDir, type CliResult } from './cli-process.ts';

/** The CLI as a user runs it (a child process) against a real API server, for one `describe`. */
export interface CliAgainstApi {
  /** The server, its store, clock and tokens: set once the suite's `before` ran. */
  readonly api: ApiHarness;
  /** The folder the CLI runs in. */
  readonly dirPath: string;
  /** Runs `spillway ARGS` with the server's URL and `token` (default: the suite's default token). */
  cli(args: readonly string[], token?: string): Promise<CliResult>;
  /** Runs it, asserts exit code 0 and returns standard output. */
  ok(args: readonly string[], token?: string): Promise<string>;
}

/**
 * Registers the suite's hooks: `before` starts a real API server on a real SQLite store and makes a working folder;
 * `after` kills CLIs still running, closes the server and removes the folder. Call it inside `describe`, before the
 * suite's own hooks (mocha runs `before` hooks in the order they were registered).
 */
export function cliAgainstApi(
  dirPrefix: string,
  defaultToken: (api: ApiHarness) => string = (api) => api.tokens.admin,
): CliAgainstApi {
  let api: ApiHarness | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  before(async () => {
    api = await startApiHarness();
    dir = tempDir(dirPrefix);
  });
  after(async () => {
    killRunningClis();
    await api?.close();
    dir?.remove();
  });
  const started = (): { api: ApiHarness; dir: ReturnType<typeof tempDir> } => {
    assert.ok(api && dir, 'the CLI suite has not started its API server yet');
    return { api, dir };
  };
  const cli = (args: readonly string[], token?: string): Promise<CliResult> => {
    const { api: server, dir: folder } = started();
    return runCliProcess(args, {
      cwd: folder.path,
      env: { SPILLWAY_URL: server.server.url, SPILLWAY_TOKEN: token ?? defaultToken(server) },
    });
  };
  return {
    get api() {
      return started().api;
    },
    get dirPath() {
      return started().dir.path;
    },
    cli,
    async ok(args, token) {
      const result = await cli(args, token);
      assert.equal(result.code, 0, `spillway ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    },
  };
}
