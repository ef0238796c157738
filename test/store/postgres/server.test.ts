import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'mocha';
import pg from 'pg';
import { isAlive } from '../../helpers/processes.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';

describe('postgres test server', () => {
  let server: PostgresServer;

  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server.stop();
  });

  it('answers queries over its Unix socket as a non-root server process', async () => {
    const client = new pg.Client(server.connection());
    await client.connect();
    try {
      const { rows } = await client.query<{ user: string; data: string }>(
        "SELECT current_user AS user, current_setting('data_directory') AS data",
      );
      assert.equal(rows[0]?.user, 'spillway');
      assert.equal(rows[0]?.data, `${server.dir}/data`);
    } finally {
      await client.end();
    }
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    assert.notEqual(uid, '0');
  });

  it('refuses a connection with a wrong password', async () => {
    const client = new pg.Client({ ...server.connection(), password: 'wrong' });
    await assert.rejects(client.connect(), /password authentication failed/);
  });

  it('gives each test a fresh database of its own', async () => {
    const first = await server.createDatabase();
    const second = await server.createDatabase();
    assert.notEqual(first, second);
    const a = new pg.Client(server.connection(first));
    await a.connect();
    await a.query('CREATE TABLE only_here (x int)');
    await a.end();
    const b = new pg.Client(server.connection(second));
    await b.connect();
    const { rows } = await b.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_here'");
    await b.end();
    assert.equal(rows[0].n, 0);
  });

  it('runs a second server beside the first, also on TCP, and stops it leaving no process or folder', async () => {
    const other = await PostgresServer.start({ listenAddress: '127.0.0.1', port: 15_432 + (process.pid % 1000) });
    const pid = other.pid;
    try {
      assert.notEqual(other.dir, server.dir);
      const client = new pg.Client({ ...other.connection(), host: '127.0.0.1' });
      await client.connect();
      const { rows } = await client.query('SELECT inet_server_addr()::text AS addr');
      await client.end();
      assert.equal(rows[0].addr, '127.0.0.1/32');
    } finally {
      await other.stop();
    }
    assert.equal(isAlive(pid), false);
    assert.equal(existsSync(other.dir), false);
  });
});
