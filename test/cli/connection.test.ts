import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { resolveConnection, spillwayHome } from '../../src/cli/connection.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { tempDir } from './helpers/cli-process.ts';

describe('cli connection: flags, environment and local defaults', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir('spillway-cli-conn-');
  });
  afterEach(() => dir.remove());

  function writeLocal(home: string, url: string, token: string): void {
    mkdirSync(join(dir.path, home), { recursive: true });
    writeFileSync(join(dir.path, home, 'api.url'), `${url}\n`);
    writeFileSync(join(dir.path, home, 'admin.token'), `${token}\n`, { mode: 0o600 });
  }

  it('reads the URL and admin token that serve wrote in ./.spillway', () => {
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const c = resolveConnection({}, { env: {}, cwd: dir.path });
    assert.equal(c.url, 'http://127.0.0.1:7070');
    assert.equal(c.token, 'swt_local');
    assert.equal(c.urlSource, join(dir.path, '.spillway', 'api.url'));
    assert.equal(c.tokenSource, join(dir.path, '.spillway', 'admin.token'));
  });

  it('reads them from SPILLWAY_HOME instead, relative to the current folder', () => {
    writeLocal('other-home', 'http://127.0.0.1:9000/', 'swt_other');
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const ctx = { env: { SPILLWAY_HOME: 'other-home' }, cwd: dir.path };
    assert.equal(spillwayHome(ctx), join(dir.path, 'other-home'));
    const c = resolveConnection({}, ctx);
    assert.equal(c.url, 'http://127.0.0.1:9000');
    assert.equal(c.token, 'swt_other');
  });

  it('prefers the flags, then the environment, over the local files', () => {
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const env = { SPILLWAY_URL: 'http://env:1', SPILLWAY_TOKEN: 'swt_env' };
    const fromEnv = resolveConnection({}, { env, cwd: dir.path });
    assert.deepEqual(
      [fromEnv.url, fromEnv.token, fromEnv.urlSource, fromEnv.tokenSource],
      ['http://env:1', 'swt_env', 'SPILLWAY_URL', 'SPILLWAY_TOKEN'],
    );
    const fromFlags = resolveConnection({ url: 'https://flag:2', token: 'swt_flag' }, { env, cwd: dir.path });
    assert.deepEqual([fromFlags.url, fromFlags.token, fromFlags.urlSource], ['https://flag:2', 'swt_flag', '--url']);
  });

  it('never sends the local admin token to another server', () => {
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const c = resolveConnection({ url: 'https://elsewhere.example' }, { env: {}, cwd: dir.path });
    assert.equal(c.token, undefined);
    const viaEnv = resolveConnection({}, { env: { SPILLWAY_URL: 'http://10.0.0.9:7070' }, cwd: dir.path });
    assert.equal(viaEnv.token, undefined);
  });

  it("sends the local admin token when the URL given is the local server's", () => {
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const c = resolveConnection({ url: 'http://127.0.0.1:7070/' }, { env: {}, cwd: dir.path });
    assert.equal(c.token, 'swt_local');
  });

  it('goes without a token when there is none anywhere', () => {
    const c = resolveConnection({ url: 'http://127.0.0.1:7070' }, { env: {}, cwd: dir.path });
    assert.equal(c.token, undefined);
  });

  it('treats empty environment variables as unset', () => {
    writeLocal('.spillway', 'http://127.0.0.1:7070', 'swt_local');
    const c = resolveConnection({}, { env: { SPILLWAY_URL: '', SPILLWAY_TOKEN: ' ' }, cwd: dir.path });
    assert.equal(c.url, 'http://127.0.0.1:7070');
    assert.equal(c.token, 'swt_local');
  });

  it('says how to get a URL when there is none, naming --url', () => {
    assert.throws(
      () => resolveConnection({}, { env: {}, cwd: dir.path }),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.field, '--url');
        assert.match(err.message, /SPILLWAY_URL/);
        assert.match(err.message, /spillway serve/);
        return true;
      },
    );
  });

  const badUrls = [
    { flags: { url: 'localhost:7070' }, env: {}, field: '--url' },
    { flags: { url: 'ftp://host' }, env: {}, field: '--url' },
    { flags: {}, env: { SPILLWAY_URL: 'not a url' }, field: 'SPILLWAY_URL' },
  ];
  for (const c of badUrls) {
    it(`refuses ${JSON.stringify(c.flags.url ?? c.env.SPILLWAY_URL)} naming ${c.field} and the value`, () => {
      assert.throws(
        () => resolveConnection(c.flags, { env: c.env, cwd: dir.path }),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError);
          assert.equal(err.field, c.field);
          assert.ok(err.message.includes(JSON.stringify(c.flags.url ?? c.env.SPILLWAY_URL)), err.message);
          return true;
        },
      );
    });
  }

  it('ignores a broken local URL file when a URL is given', () => {
    writeLocal('.spillway', 'garbage', 'swt_local');
    assert.equal(resolveConnection({ url: 'http://h:1' }, { env: {}, cwd: dir.path }).url, 'http://h:1');
    assert.throws(() => resolveConnection({}, { env: {}, cwd: dir.path }), /api\.url: expected an http/);
  });

  it('reads the CA bundle from --ca-file, else SPILLWAY_CA_FILE, relative to the current folder', () => {
    writeFileSync(join(dir.path, 'a.pem'), 'PEM-A');
    writeFileSync(join(dir.path, 'b.pem'), 'PEM-B');
    const url = 'https://h:1';
    assert.equal(
      resolveConnection({ url, caFile: 'a.pem' }, { env: { SPILLWAY_CA_FILE: 'b.pem' }, cwd: dir.path }).ca,
      'PEM-A',
    );
    assert.equal(resolveConnection({ url }, { env: { SPILLWAY_CA_FILE: 'b.pem' }, cwd: dir.path }).ca, 'PEM-B');
    assert.equal(resolveConnection({ url }, { env: {}, cwd: dir.path }).ca, undefined);
    assert.throws(() => resolveConnection({ url, caFile: 'missing.pem' }, { env: {}, cwd: dir.path }), {
      field: '--ca-file',
    });
  });
});
