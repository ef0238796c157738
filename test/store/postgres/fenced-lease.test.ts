import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import { FencedError } from '../../../src/store/fenced-error.ts';
import { PgFencedLease, type LeaseGrant } from '../../../src/store/postgres/fenced-lease.ts';
import { migratePostgres } from '../../../src/store/postgres/migrations.ts';
import { openPostgresPool } from '../../../src/store/postgres/pg-connection.ts';
import { PgDb } from '../../../src/store/postgres/pg-db.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { waitFor } from '../../helpers/wait.ts';
import { TempDatabases } from './helpers.ts';

const LEASE = 'controller';
/** Long enough never to lapse during a test. */
const LONG_TTL_MS = 60_000;
/** Short enough to wait for; each wait is on a condition, not a sleep. */
const SHORT_TTL_MS = 300;

describe('postgres store: fenced lease', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  /** Two controllers, each with its own pool on one database. */
  let dbA: PgDb;
  let dbB: PgDb;
  let a: PgFencedLease;
  let b: PgFencedLease;

  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(async () => {
    dbs = new TempDatabases(server);
    const database = await dbs.create();
    dbA = dbs.open(database);
    dbB = dbs.open(database);
    await migratePostgres(dbA);
    a = new PgFencedLease(dbA);
    b = new PgFencedLease(dbB);
  });
  afterEach(async () => {
    await dbs.cleanup();
  });

  /** A write that acts on the world, fenced: one row in `meta`, checked against the lease at `epoch`. */
  async function fencedWrite(db: PgDb, lease: PgFencedLease, epoch: number, key: string): Promise<void> {
    await db.transaction(async () => {
      await db.run('INSERT INTO meta (key, value) VALUES ($1, $2)', [key, String(epoch)]);
      await lease.check(LEASE, epoch);
    });
  }

  async function metaKeys(): Promise<string[]> {
    return (await dbA.all('SELECT key FROM meta ORDER BY key')).map((row) => String(row['key']));
  }

  /** B tries until the lease is free; resolves with its grant. */
  function takeOver(lease: PgFencedLease, holder: string, ttlMs = LONG_TTL_MS): Promise<LeaseGrant> {
    return waitFor(`${holder} to take the lease`, () => lease.acquire(LEASE, holder, ttlMs), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
  }

  it('lets a standby take over from a holder gone silent inside a fenced transaction (the server ends its session)', async () => {
    // The holder's own pool, with a short idle-in-transaction limit; its transaction locks the lease row FOR SHARE
    // (check) and then hears nothing more, as when its link to the database is cut without a reset.
    const database = String((await dbA.get('SELECT current_database() AS d'))!['d']);
    const silent = new PgDb(
      openPostgresPool({ url: server.url(database), passwordFile: dbs.passwordFile, idleInTransactionTimeoutMs: 300 }),
    );
    const lease = new PgFencedLease(silent);
    try {
      const grant = await lease.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
      assert.ok(grant);
      let resume!: () => void;
      const link = new Promise<void>((resolve) => (resume = resolve));
      const stalled = silent.transaction(async () => {
        await lease.check(LEASE, grant.epoch);
        await link;
        await silent.run('INSERT INTO meta (key, value) VALUES ($1, $2)', ['silent', String(grant.epoch)]);
      });
      stalled.catch(() => undefined);
      // Without the limit the takeover waits on the FOR SHARE lock for as long as the holder stays silent.
      const taken = await takeOver(b, 'ctl-b');
      assert.equal(taken.epoch, grant.epoch + 1);
      resume();
      await assert.rejects(stalled);
      assert.deepEqual(await metaKeys().then((keys) => keys.filter((k) => k === 'silent')), []);
    } finally {
      await silent.close();
    }
  });

  it('lets one of two holders have the lease, at epoch 1, for its ttl by the database clock', async () => {
    const first = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.ok(first);
    assert.equal(first.epoch, 1);
    assert.equal(first.holder, 'ctl-a');
    assert.equal(first.expiresAtMs - first.acquiredAtMs, LONG_TTL_MS);
    assert.equal(await b.acquire(LEASE, 'ctl-b', LONG_TTL_MS), undefined);
    assert.deepEqual(await b.current(LEASE), first);
  });

  it('lets exactly one of many racing callers take a free lease', async () => {
    const grants = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).acquire(LEASE, `ctl-${i}`, LONG_TTL_MS)),
    );
    const won = grants.filter((grant) => grant !== undefined);
    assert.equal(won.length, 1);
    assert.equal(won[0]?.epoch, 1);
    assert.equal((await a.current(LEASE))?.holder, won[0]?.holder);
  });

  it('renews for its holder keeping the epoch, and moves the expiry forward', async () => {
    const first = await a.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
    assert.ok(first);
    const renewed = await a.renew(LEASE, 'ctl-a', first.epoch, LONG_TTL_MS);
    assert.ok(renewed);
    assert.equal(renewed.epoch, first.epoch);
    assert.equal(renewed.acquiredAtMs, first.acquiredAtMs);
    assert.ok(renewed.expiresAtMs >= first.acquiredAtMs + LONG_TTL_MS);
    const again = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.equal(again?.epoch, first.epoch);
    assert.equal(await b.acquire(LEASE, 'ctl-b', LONG_TTL_MS), undefined);
  });

  it('hands the lease over once it expires by the database clock, with the next epoch', async () => {
    const first = await a.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
    assert.ok(first);
    assert.equal(await b.acquire(LEASE, 'ctl-b', LONG_TTL_MS), undefined);
    const second = await takeOver(b, 'ctl-b');
    assert.equal(second.epoch, 2);
    assert.ok(second.acquiredAtMs >= first.expiresAtMs, `taken at ${second.acquiredAtMs}, before ${first.expiresAtMs}`);
    assert.equal(await a.renew(LEASE, 'ctl-a', first.epoch, LONG_TTL_MS), undefined);
    assert.equal(await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS), undefined);
  });

  it('grows the epoch on every takeover, a release and a holder taking its own expired lease back included', async () => {
    const epochs: number[] = [];
    const g1 = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    epochs.push(g1?.epoch ?? -1);
    assert.equal(await a.release(LEASE, 'ctl-a', g1?.epoch), true);
    assert.equal(await a.current(LEASE), undefined);
    const g2 = await b.acquire(LEASE, 'ctl-b', SHORT_TTL_MS);
    epochs.push(g2?.epoch ?? -1);
    const g3 = await takeOver(a, 'ctl-a', SHORT_TTL_MS);
    epochs.push(g3.epoch);
    // ctl-a lets its own lease lapse, then takes it again: a new epoch, since anyone could have taken it meanwhile.
    await waitFor('the lease to lapse', async () => (await a.current(LEASE)) === undefined, { intervalMs: 20 });
    const g4 = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    epochs.push(g4?.epoch ?? -1);
    assert.deepEqual(epochs, [1, 2, 3, 4]);
  });

  it('ignores a release by a holder that does not hold the lease, or names an old epoch', async () => {
    const g1 = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.equal(await b.release(LEASE, 'ctl-b'), false);
    assert.equal(await a.release(LEASE, 'ctl-a', (g1?.epoch ?? 0) + 1), false);
    assert.equal((await b.current(LEASE))?.holder, 'ctl-a');
  });

  it("lets the holder's fenced writes commit", async () => {
    const grant = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.ok(grant);
    await fencedWrite(dbA, a, grant.epoch, 'intent-1');
    assert.deepEqual(await metaKeys(), ['intent-1']);
  });

  it('refuses a write of a stale epoch once a newer one exists, and the write changes nothing', async () => {
    const old = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.ok(old);
    await a.release(LEASE, 'ctl-a', old.epoch);
    const current = await b.acquire(LEASE, 'ctl-b', LONG_TTL_MS);
    assert.equal(current?.epoch, 2);
    await assert.rejects(fencedWrite(dbA, a, old.epoch, 'stale'), (err: unknown) => {
      assert.ok(err instanceof FencedError);
      assert.equal(err.retryable, false);
      assert.equal(err.epoch, 1);
      assert.equal(err.currentEpoch, 2);
      assert.match(err.message, /^writing under lease controller at epoch 1: refused, a newer epoch 2 exists$/);
      return true;
    });
    await fencedWrite(dbB, b, 2, 'fresh');
    assert.deepEqual(await metaKeys(), ['fresh']);
  });

  it('refuses a paused holder: its ttl passed and another took over while it was stopped', async () => {
    const paused = await a.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
    assert.ok(paused);
    // ctl-a is "paused": it does nothing while ctl-b waits for the database clock to pass its ttl and takes over.
    const taker = await takeOver(b, 'ctl-b');
    await fencedWrite(dbB, b, taker.epoch, 'by-b');
    // ctl-a wakes up and carries on as if it still led.
    await assert.rejects(fencedWrite(dbA, a, paused.epoch, 'by-a-after-pause'), FencedError);
    assert.equal(await a.renew(LEASE, 'ctl-a', paused.epoch, LONG_TTL_MS), undefined);
    assert.deepEqual(await metaKeys(), ['by-b']);
  });

  it('refuses a holder whose lease expired even before anyone took over', async () => {
    const lapsed = await a.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
    assert.ok(lapsed);
    await waitFor('the lease to lapse', async () => (await b.current(LEASE)) === undefined, { intervalMs: 20 });
    await assert.rejects(fencedWrite(dbA, a, lapsed.epoch, 'late'), /at epoch 1: refused, the lease expired$/);
    assert.deepEqual(await metaKeys(), []);
  });

  it('refuses a write after its holder released the lease, and a write under a lease never taken', async () => {
    const grant = await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    assert.ok(grant);
    await a.release(LEASE, 'ctl-a');
    await assert.rejects(fencedWrite(dbA, a, grant.epoch, 'after-release'), /refused, the lease was released$/);
    await assert.rejects(
      dbA.transaction(() => a.check('other-lease', 1)),
      (err: unknown) => err instanceof FencedError && err.currentEpoch === null,
    );
    assert.deepEqual(await metaKeys(), []);
  });

  it('makes a takeover wait for a fenced write in progress, so no old-epoch write commits after it', async () => {
    const old = await a.acquire(LEASE, 'ctl-a', SHORT_TTL_MS);
    assert.ok(old);
    let releaseWriter: () => void = () => undefined;
    const writerMayCommit = new Promise<void>((resolve) => (releaseWriter = resolve));
    let checked: () => void = () => undefined;
    const writerChecked = new Promise<void>((resolve) => (checked = resolve));
    const writer = dbA.transaction(async () => {
      await a.check(LEASE, old.epoch);
      checked();
      await writerMayCommit;
      await dbA.run("INSERT INTO meta (key, value) VALUES ('in-flight', '1')");
    });
    await writerChecked;
    // The lease lapses while the write is open; ctl-b's takeover must block on the writer's row lock.
    await waitFor('the lease to lapse', async () => (await b.current(LEASE)) === undefined, { intervalMs: 20 });
    const takeover = b.acquire(LEASE, 'ctl-b', LONG_TTL_MS);
    await waitFor('the takeover to wait for the lease row', async () => {
      const row = await dbB.get(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO lease%' AND datname = current_database()`,
      );
      return row?.['n'] === 1;
    });
    releaseWriter();
    await writer;
    const grant = await takeover;
    assert.equal(grant?.epoch, 2);
    // The write committed before epoch 2 existed; the next one of epoch 1 is refused.
    assert.deepEqual(await metaKeys(), ['in-flight']);
    await assert.rejects(fencedWrite(dbA, a, old.epoch, 'after'), FencedError);
  });

  it('refuses to check the fence outside a transaction', async () => {
    await a.acquire(LEASE, 'ctl-a', LONG_TTL_MS);
    await assert.rejects(a.check(LEASE, 1), /the fence must run inside the write's transaction/);
  });
});
