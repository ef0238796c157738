import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { makePrivate } from '../../src/store/private-files.ts';
import { captureLogs } from '../helpers/log-capture.ts';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('private files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-private-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("tightens what an older version left open in the home and the store's folder, and says so once", () => {
    const home = join(dir, '.spillway');
    mkdirSync(join(home, 'local-cloud'), { recursive: true, mode: 0o755 });
    chmodSync(home, 0o755);
    for (const f of ['admin.token', 'spillway.db', 'spillway.db-wal', 'local-cloud/state.json']) {
      writeFileSync(join(home, f), 'x', { mode: 0o644 });
    }
    const storeDir = join(dir, 'data');
    mkdirSync(storeDir, { mode: 0o755 });
    chmodSync(storeDir, 0o755);
    for (const f of ['store.db', 'store.db-wal', 'store.db-shm', 'store.db.bak-v1-1', 'unrelated.txt']) {
      writeFileSync(join(storeDir, f), 'x', { mode: 0o644 });
    }
    const logs = captureLogs();
    makePrivate({ home, storePath: join(storeDir, 'store.db'), logger: logs.logger });

    assert.equal(modeOf(home), 0o700);
    assert.equal(modeOf(join(home, 'local-cloud')), 0o700);
    for (const f of ['admin.token', 'spillway.db', 'spillway.db-wal', 'local-cloud/state.json']) {
      assert.equal(modeOf(join(home, f)), 0o600, f);
    }
    for (const f of ['store.db', 'store.db-wal', 'store.db-shm', 'store.db.bak-v1-1']) {
      assert.equal(modeOf(join(storeDir, f)), 0o600, f);
    }
    assert.equal(modeOf(join(storeDir, 'unrelated.txt')), 0o644, "another program's file is left alone");
    assert.equal(modeOf(storeDir), 0o755, 'an existing folder the store shares is left alone');
    const warnings = logs.lines().filter((l) => l.message === 'tightened file modes an older version left open to other users');
    assert.equal(warnings.length, 1);
    assert.equal((warnings[0]!.paths as string[]).length, 10);

    const again = captureLogs();
    makePrivate({ home, storePath: join(storeDir, 'store.db'), logger: again.logger });
    assert.deepEqual(again.lines(), [], 'nothing to say the second time');
  });

  it("creates a missing home and store folder 0700", () => {
    const home = join(dir, 'h');
    const storePath = join(dir, 'db', 'nested', 'spillway.db');
    makePrivate({ home, storePath, logger: captureLogs().logger });
    assert.equal(modeOf(home), 0o700);
    assert.equal(modeOf(join(dir, 'db', 'nested')), 0o700);
  });
});
