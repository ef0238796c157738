import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { ValidationError } from '../../../src/core/errors.ts';
import { openPostgresPool, type PostgresConnectionOptions } from '../../../src/store/postgres/pg-connection.ts';
import { PgDb, PostgresStoreError } from '../../../src/store/postgres/pg-db.ts';
import { POSTGRES_PASSWORD, POSTGRES_USER, PostgresServer } from '../../helpers/postgres-server.ts';

/** A CA and a server certificate it signed for localhost and 127.0.0.1, made with the openssl command. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=test ca',
  ]);
  run(['req', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    join(dir, 'server.pem'),
    '-days',
    '2',
    '-extfile',
    join(dir, 'ext'),
  ]);
  return {
    ca: join(dir, 'ca.pem'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
  };
}

describe('postgres store: connection', () => {
  let server: PostgresServer;
  let dir: string;
  let caFile: string;
  let passwordFile: string;
  const port = 20_000 + (process.pid % 10_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-pgconn-'));
    const certs = certificates(dir);
    caFile = certs.ca;
    passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
    server = await PostgresServer.start({
      listenAddress: '127.0.0.1',
      port,
      tls: { cert: certs.cert, key: certs.key },
    });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a pool, runs one query reporting the connection's user and TLS, and closes it. */
  async function whoAmI(
    opts: PostgresConnectionOptions,
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ user: string; tls: boolean }> {
    const db = new PgDb(openPostgresPool(opts, env));
    try {
      const row = await db.get('SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return { user: String(row?.['user']), tls: row?.['ssl'] === true };
    } finally {
      await db.close();
    }
  }

  it('connects over the Unix socket with the password read from a file', async () => {
    assert.deepEqual(await whoAmI({ url: server.url(), passwordFile }), { user: POSTGRES_USER, tls: false });
  });

  it('connects with the password read from a named environment variable', async () => {
    const env = { SPILLWAY_STORE_PASSWORD: POSTGRES_PASSWORD };
    assert.deepEqual(await whoAmI({ url: server.url(), passwordEnv: 'SPILLWAY_STORE_PASSWORD' }, env), {
      user: POSTGRES_USER,
      tls: false,
    });
  });

  it('reads the password file again for a new connection, so the password can rotate', async () => {
    const rotating = join(dir, 'rotating');
    writeFileSync(rotating, 'wrong', { mode: 0o600 });
    const db = new PgDb(openPostgresPool({ url: server.url(), passwordFile: rotating }));
    try {
      await assert.rejects(db.get('SELECT 1'), (err: unknown) => {
        assert.ok(err instanceof PostgresStoreError);
        assert.match(err.message, /password authentication failed/);
        assert.equal(err.retryable, false);
        return true;
      });
      writeFileSync(rotating, POSTGRES_PASSWORD);
      assert.deepEqual(await db.get('SELECT 41 + 1 AS n'), { n: 42 });
    } finally {
      await db.close();
    }
  });

  it('speaks TLS over TCP, verifying the server against the given CA', async () => {
    const url = `postgresql://${POSTGRES_USER}@localhost:${port}/postgres`;
    assert.deepEqual(await whoAmI({ url, passwordFile, tls: { caFile } }), { user: POSTGRES_USER, tls: true });
    assert.deepEqual(await whoAmI({ url, passwordFile, tls: { mode: 'require' } }), { user: POSTGRES_USER, tls: true });
  });

  it('refuses a server whose certificate does not chain to the CA (verify-full, the default)', async () => {
    const url = `postgresql://${POSTGRES_USER}@localhost:${port}/postgres`;
    const db = new PgDb(openPostgresPool({ url, passwordFile, tls: {} }));
    try {
      await assert.rejects(db.get('SELECT 1'), /self-signed certificate|unable to verify|certificate/);
    } finally {
      await db.close();
    }
  });

  it('fails retryably, naming the query, when the server cannot be reached', async () => {
    const url = `postgresql://${POSTGRES_USER}@127.0.0.1:${port + 1}/postgres`;
    const db = new PgDb(openPostgresPool({ url, passwordFile, connectTimeoutMs: 2_000 }));
    try {
      await assert.rejects(db.get('SELECT 1'), (err: unknown) => {
        assert.ok(err instanceof PostgresStoreError);
        assert.equal(err.retryable, true);
        assert.match(err.message, /^querying the store \(SELECT 1\): .*ECONNREFUSED/);
        return true;
      });
    } finally {
      await db.close();
    }
  });

  it('gives up on a query the server does not answer within queryTimeoutMs, retryably, and drops its connection', async () => {
    // One connection at most: a connection kept after its timeout would take every later query down with it.
    const pool = openPostgresPool({ url: server.url(), passwordFile, queryTimeoutMs: 500, maxConnections: 1 });
    const sent: string[] = [];
    const watched = new WeakSet<object>();
    pool.on('acquire', (client) => {
      if (watched.has(client)) return;
      watched.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        sent.push(String(typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text));
        return query(...args);
      };
    });
    const db = new PgDb(pool);
    const stopped: number[] = [];
    /** The backend serving this connection, stopped: it neither answers nor closes (a link cut silently). */
    const stopBackend = async (): Promise<number> => {
      const pid = Number((await db.get('SELECT pg_backend_pid() AS pid'))?.['pid']);
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
      return pid;
    };
    const timedOut = (err: unknown): boolean => {
      assert.ok(err instanceof PostgresStoreError);
      assert.equal(err.retryable, true);
      assert.match(err.message, /Query read timeout/);
      return true;
    };
    try {
      // Outside a transaction.
      const first = await stopBackend();
      await assert.rejects(db.get('SELECT 1'), timedOut);
      const second = Number((await db.get('SELECT pg_backend_pid() AS pid'))?.['pid']);
      assert.notEqual(second, first, 'a new connection answers');
      // Inside one: the timed-out query fails it, nothing more is sent on that connection (no ROLLBACK that would
      // wait as long again), a later query in the callback fails at once, and the next transaction gets a new one.
      let third = 0;
      let afterTimeout: unknown;
      await assert.rejects(
        db.transaction(async () => {
          third = await stopBackend();
          sent.length = 0;
          await db.get('SELECT 2').catch(() => undefined);
          afterTimeout = await db.get('SELECT 3').catch((err: unknown) => err);
          throw new Error('the callback failed');
        }),
        /the callback failed/,
      );
      assert.deepEqual(sent, ['SELECT 2'], 'only the query that timed out went to the stopped backend');
      assert.ok(afterTimeout instanceof PostgresStoreError && afterTimeout.retryable);
      assert.match(afterTimeout.message, /SELECT 3.*earlier in this transaction/);
      const fourth = await db.transaction(async () =>
        Number((await db.get('SELECT pg_backend_pid() AS pid'))?.['pid']),
      );
      assert.ok(![first, second, third].includes(fourth), 'the transaction after it has a new connection');
    } finally {
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
      await db.close();
    }
  });

  const badOptions: {
    name: string;
    opts: PostgresConnectionOptions;
    env?: NodeJS.ProcessEnv;
    field: string;
    problem: RegExp;
  }[] = [
    { name: 'not a URL', opts: { url: 'not a url at all' }, field: 'url', problem: /postgresql:\/\/ URL/ },
    { name: 'another scheme', opts: { url: 'mysql://u@h/db' }, field: 'url', problem: /postgresql: scheme/ },
    {
      name: 'a password in the URL',
      opts: { url: 'postgresql://u:secret@h/db' },
      field: 'url',
      problem: /holds a password/,
    },
    {
      name: 'sslmode in the URL',
      opts: { url: 'postgresql://u@h/db?sslmode=disable' },
      field: 'url',
      problem: /sets sslmode.*use tls/,
    },
    { name: 'no database', opts: { url: 'postgresql://u@h' }, field: 'url', problem: /names no database/ },
    { name: 'a bad port', opts: { url: 'postgresql://u@h/db?port=99999' }, field: 'url', problem: /not a TCP port/ },
    {
      name: 'both password sources',
      opts: { url: 'postgresql://u@h/db', passwordFile: '/nonexistent', passwordEnv: 'X' },
      field: 'passwordFile',
      problem: /not both/,
    },
    {
      name: 'a missing password file',
      opts: { url: 'postgresql://u@h/db', passwordFile: '/nonexistent/pw' },
      field: 'passwordFile',
      problem: /ENOENT/,
    },
    {
      name: 'an unset variable',
      opts: { url: 'postgresql://u@h/db', passwordEnv: 'NOT_SET' },
      field: 'passwordEnv',
      problem: /NOT_SET is not set/,
    },
    {
      name: 'a missing CA file',
      opts: { url: 'postgresql://u@h/db', tls: { caFile: '/nonexistent/ca.pem' } },
      field: 'tls.caFile',
      problem: /ENOENT/,
    },
    {
      name: 'a certificate without key',
      opts: { url: 'postgresql://u@h/db', tls: { certFile: '/x.pem' } },
      field: 'tls.keyFile',
      problem: /together/,
    },
    {
      name: 'an unknown TLS mode',
      opts: { url: 'postgresql://u@h/db', tls: { mode: 'prefer' as 'require' } },
      field: 'tls.mode',
      problem: /verify-full or require/,
    },
    {
      name: 'a query timeout of nothing',
      opts: { url: 'postgresql://u@h/db', queryTimeoutMs: 0 },
      field: 'queryTimeoutMs',
      problem: /positive integer, got 0/,
    },
    {
      name: 'a fractional idle-in-transaction timeout',
      opts: { url: 'postgresql://u@h/db', idleInTransactionTimeoutMs: 1.5 },
      field: 'idleInTransactionTimeoutMs',
      problem: /positive integer, got 1.5/,
    },
    {
      name: 'no connections',
      opts: { url: 'postgresql://u@h/db', maxConnections: 0 },
      field: 'maxConnections',
      problem: /positive integer/,
    },
  ];
  for (const c of badOptions) {
    it(`refuses ${c.name}, naming the option`, () => {
      assert.throws(
        () => openPostgresPool(c.opts, c.env ?? {}),
        (err: unknown) => err instanceof ValidationError && err.field === c.field && c.problem.test(err.message),
      );
    });
  }
});
