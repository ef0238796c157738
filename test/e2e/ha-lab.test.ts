import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'mocha';
import { NetnsLab } from '../helpers/netns-lab.ts';
import { POSTGRES_PASSWORD, POSTGRES_USER, PostgresServer } from '../helpers/postgres-server.ts';

/**
 * The lab the failover tests stand on: controllers in their own network namespaces reach one PostgreSQL on the
 * bridge, and cutting one namespace's link to it leaves the others' links and the host's way in untouched.
 */
describe('HA lab: namespaces, one PostgreSQL, and a link cut', function () {
  this.timeout(60_000);
  let lab: NetnsLab;
  let db: PostgresServer;
  const children: ChildProcess[] = [];

  before(async () => {
    lab = NetnsLab.create(2);
    db = await PostgresServer.start({ listenAddress: lab.databaseAddress, allowNetwork: lab.cidr, port: 55_432 });
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await db?.stop();
    lab?.remove();
  });

  /** Runs a Node script in `ns`; resolves with its stdout, trimmed. */
  function inNamespace(ns: string, script: string): Promise<string> {
    const child = lab.spawn(ns, process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise((resolve) => child.once('exit', () => resolve(out.trim())));
  }

  /** From `ns`: `ok <server address>` when a query reaches the database within 1.5 s, else `no <error code>`. */
  const query = (ns: string) =>
    inNamespace(
      ns,
      `import pg from 'pg';
       const c = new pg.Client({ host: '${lab.databaseAddress}', port: 55432, user: '${POSTGRES_USER}',
         password: '${POSTGRES_PASSWORD}', database: 'postgres', connectionTimeoutMillis: 1500 });
       try { await c.connect(); const r = await c.query('SELECT inet_client_addr() AS a'); console.log('ok ' + r.rows[0].a); }
       catch (e) { console.log('no ' + (e.code ?? e.message)); } finally { await c.end().catch(() => {}); }`,
    );

  it('gives each namespace its own address, from which it reaches the database', async () => {
    const [a, b] = lab.namespaces as [string, string];
    assert.equal(await query(a), `ok ${lab.address(a)}`);
    assert.equal(await query(b), `ok ${lab.address(b)}`);
  });

  it('cuts one namespace from the database only: the other keeps it, and the host still reaches the cut one', async () => {
    const [a, b] = lab.namespaces as [string, string];
    // An HTTP server in the namespace to be cut: the host must still reach it (agents keep their way in).
    const server = lab.spawn(
      a,
      process.execPath,
      [
        '-e',
        `require('node:http').createServer((q, s) => s.end('up')).listen(7071, '${lab.address(a)}', () => console.log('listening'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(server);
    await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    lab.cut(a);
    try {
      assert.match(await query(a), /^no /);
      assert.equal(await query(b), `ok ${lab.address(b)}`);
      const answer = await fetch(`http://${lab.address(a)}:7071/`);
      assert.equal(await answer.text(), 'up');
    } finally {
      lab.heal(a);
      server.kill('SIGKILL');
    }
    assert.equal(await query(a), `ok ${lab.address(a)}`, 'healed');
  });
});
