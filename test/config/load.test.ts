import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { loadConfig, parseConfig, storePath } from '../../src/config/load.ts';
import { effectivePolicy } from '../../src/config/schema.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { DEMO_POLICY, PRODUCTION_POLICY } from '../../src/core/policy.ts';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return `${err.field} | ${err.message}`;
  }
  assert.fail('expected a ValidationError');
}

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-config-'));
  });
  afterEach(() => {
    delete process.env.SPILLWAY_HOME;
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the demo without a file: a local cloud, two private agents, the demo policy, under .spillway', () => {
    const config = loadConfig(undefined);
    assert.equal(config.clusterId, 'demo');
    assert.equal(config.home, '.spillway');
    assert.equal(storePath(config), resolve('.spillway/spillway.db'));
    assert.equal(config.providers[0]!.kind, 'local');
    assert.deepEqual(config.pool.privateAgents, { count: 2, cpu: 2000, memory: 4096, site: 'local' });
    assert.deepEqual(effectivePolicy(config), DEMO_POLICY);
    assert.ok(DEMO_POLICY.pendingGraceMs <= 5_000 && DEMO_POLICY.idleTtlMs <= 30_000, 'the walk-through stays short');
  });

  it('moves the demo folder with SPILLWAY_HOME', () => {
    process.env.SPILLWAY_HOME = join(dir, 'elsewhere');
    assert.equal(loadConfig(undefined).home, join(dir, 'elsewhere'));
  });

  it('fills defaults for a minimal file, with the production policy under its own keys', () => {
    const file = join(dir, 'spillway.yaml');
    writeFileSync(file, 'clusterId: lab-1\npolicy:\n  pendingGraceMs: 1000\n');
    const config = loadConfig(file);
    assert.equal(config.api.port, 7070);
    assert.equal(config.controller.releaseOnShutdown, false);
    assert.deepEqual(effectivePolicy(config), { ...PRODUCTION_POLICY, pendingGraceMs: 1000 });
  });

  const bad = [
    { name: 'a missing cluster id', input: {}, want: /^clusterId \| clusterId: / },
    { name: 'an unknown key', input: { clusterId: 'a', colour: 'red' }, want: /^colour \| colour: unknown field/ },
    { name: 'a nested unknown key', input: { clusterId: 'a', api: { prot: 1 } }, want: /^api\.prot \| / },
    { name: 'a bad cluster id', input: { clusterId: 'Has Spaces' }, want: /^clusterId \| .*lowercase/ },
    {
      name: 'a bad memory quantity deep inside',
      input: {
        clusterId: 'a',
        providers: [{ kind: 'local', offerings: [{ instanceType: 't', cpu: 1, memory: 'lots', pricePerHourUsd: 1 }] }],
      },
      want: /^providers\.0\.offerings\.0\.memory \| .*expected a memory quantity/,
    },
    {
      name: 'an unknown provider kind',
      input: { clusterId: 'a', providers: [{ kind: 'nimbus' }] },
      want: /^providers\.0\.kind \| /,
    },
    {
      name: 'a policy of the wrong type',
      input: { clusterId: 'a', policy: { idleTtlMs: 'soon' } },
      want: /^policy\.idleTtlMs \| /,
    },
    {
      name: 'an empty list of agent URLs',
      input: { clusterId: 'a', api: { agentUrls: [] } },
      want: /^api\.agentUrls \| /,
    },
    {
      name: 'an agent URL that is not one',
      input: { clusterId: 'a', api: { agentUrls: ['http://a:1', 'b'] } },
      want: /^api\.agentUrls\.1 \| /,
    },
    { name: 'an unknown store kind', input: { clusterId: 'a', store: { kind: 'mysql' } }, want: /^store\.kind \| / },
    {
      name: 'a PostgreSQL store without a URL',
      input: { clusterId: 'a', store: { kind: 'postgres' } },
      want: /^store\.url \| /,
    },
    {
      name: 'a SQLite key on a PostgreSQL store',
      input: { clusterId: 'a', store: { kind: 'postgres', url: 'postgresql://s@db/s', path: 'x.db' } },
      want: /^store\.path \| .*unknown field/,
    },
    {
      name: 'two password sources',
      input: {
        clusterId: 'a',
        store: { kind: 'postgres', url: 'postgresql://s@db/s', passwordFile: '/p', passwordEnv: 'PGPASS' },
      },
      want: /^store\.passwordEnv \| .*not both/,
    },
    {
      name: 'a password variable that is not a name',
      input: { clusterId: 'a', store: { kind: 'postgres', url: 'postgresql://s@db/s', passwordEnv: 'hunter2!' } },
      want: /^store\.passwordEnv \| .*environment variable name/,
    },
    {
      name: 'a client certificate without its key',
      input: { clusterId: 'a', store: { kind: 'postgres', url: 'postgresql://s@db/s', tls: { certFile: '/c.pem' } } },
      want: /^store\.tls\.certFile \| .*together/,
    },
    {
      name: 'an unknown TLS mode',
      input: { clusterId: 'a', store: { kind: 'postgres', url: 'postgresql://s@db/s', tls: { mode: 'prefer' } } },
      want: /^store\.tls\.mode \| /,
    },
    {
      name: 'an agent declared lost sooner than three heartbeats',
      input: { clusterId: 'a', pool: { heartbeatIntervalMs: 1_000, lostAfterMs: 2_999 } },
      want: /^pool\.lostAfterMs \| .*at least 3 x pool\.heartbeatIntervalMs \(3000 ms\)/,
    },
    {
      name: 'a Slurm pool that declares agents lost between two heartbeats',
      input: {
        clusterId: 'a',
        pool: {
          kind: 'slurm',
          heartbeatIntervalMs: 5_000,
          lostAfterMs: 6_000,
          slurmConf: '/etc/slurm/slurm.conf',
          confServer: 'ctl:6817',
          mungeKeyFile: '/etc/munge/munge.key',
          shapes: [{ instanceType: 'c7i.large', placeholder: 'spw-c7i' }],
        },
      },
      want: /^pool\.lostAfterMs \| .*\(15000 ms\)/,
    },
    {
      name: 'a pool of no connections',
      input: { clusterId: 'a', store: { kind: 'postgres', url: 'postgresql://s@db/s', maxConnections: 0 } },
      want: /^store\.maxConnections \| /,
    },
  ];
  for (const c of bad) {
    it(`names the key of ${c.name}`, () =>
      assert.match(
        fieldOf(() => parseConfig(c.input)),
        c.want,
      ));
  }

  it('keeps a store written before PostgreSQL existed (`store: {path}`) a SQLite file', () => {
    const config = parseConfig({ clusterId: 'a', store: { path: join(dir, 'x.db') } });
    assert.deepEqual(config.store, { kind: 'sqlite', path: join(dir, 'x.db') });
    assert.equal(storePath(config), join(dir, 'x.db'));
    assert.deepEqual(parseConfig({ clusterId: 'a' }).store, { kind: 'sqlite' });
  });

  it('takes a PostgreSQL store with its defaults (verify-full TLS, 10 connections, 5 s to connect, 30 s per query), and it has no file', () => {
    const config = parseConfig({
      clusterId: 'a',
      store: {
        kind: 'postgres',
        url: 'postgresql://spillway@db:5432/spillway',
        passwordFile: '/run/secrets/pg',
        tls: {},
      },
    });
    assert.deepEqual(config.store, {
      kind: 'postgres',
      url: 'postgresql://spillway@db:5432/spillway',
      passwordFile: '/run/secrets/pg',
      tls: { mode: 'verify-full' },
      maxConnections: 10,
      connectTimeoutMs: 5_000,
      queryTimeoutMs: 30_000,
    });
    assert.match(
      fieldOf(() => storePath(config)),
      /^store\.kind \| .*the postgres store has no file/,
    );
  });

  it('says which file it cannot read or parse', () => {
    assert.match(
      fieldOf(() => loadConfig(join(dir, 'missing.yaml'))),
      /^--config \| .*cannot read .*missing\.yaml/,
    );
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'clusterId: [unclosed\n');
    assert.match(
      fieldOf(() => loadConfig(broken)),
      /^--config \| .*broken\.yaml is not valid YAML/,
    );
  });
});
