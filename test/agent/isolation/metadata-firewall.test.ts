import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';
import { LOOPBACK, MetadataFirewall, metadataEndpoints } from '../../../src/agent/isolation/metadata-firewall.ts';
import { silentLogger } from '../../../src/log/logger.ts';

const FIRST_UID = 64_280;
const LAST_UID = 64_289;
const OUTSIDER_UID = 64_299;
const canFilter = process.getuid?.() === 0;

/** Connects as `uid` to each address and answers, per address, `ok` or the error's name. */
async function connectAs(uid: number, port: number, addresses: readonly string[]): Promise<string[]> {
  const script = [
    'import socket, sys',
    'for a in sys.argv[2:]:',
    '  try:',
    '    socket.create_connection((a, int(sys.argv[1])), timeout=5).close(); print("ok")',
    '  except OSError as e:',
    '    print(type(e).__name__)',
  ].join('\n');
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, String(port), ...addresses], {
    uid,
    gid: uid,
    cwd: '/',
  });
  return stdout.trim().split('\n');
}

describe('metadata endpoints', () => {
  it('blocks a metadata service on this machine on every address, whatever names it', () => {
    for (const url of [
      'http://localhost:8999/',
      'http://127.0.0.1:8999',
      'http://[::1]:8999/',
      'http://md.localhost:8999',
    ]) {
      assert.deepEqual(
        metadataEndpoints(url).filter((e) => e.port !== undefined),
        [{ address: LOOPBACK, port: 8999 }],
        url,
      );
    }
  });

  it("blocks a remote metadata address on its port only, beside the clouds' addresses", () => {
    assert.deepEqual(metadataEndpoints('https://10.1.2.3/'), [
      { address: '169.254.169.254' },
      { address: 'fd00:ec2::254' },
      { address: '10.1.2.3', port: 443 },
    ]);
  });
});

/** The kernel's real packet filter and real uids. */
(canFilter ? describe : describe.skip)('metadata firewall', function () {
  this.timeout(30_000);
  let metadata: Server;
  let other: Server;
  let firewall: MetadataFirewall;

  const listen = async (): Promise<Server> => {
    const server = createServer((socket) => socket.end());
    server.listen(0, '::');
    await once(server, 'listening');
    return server;
  };
  const portOf = (server: Server): number => (server.address() as AddressInfo).port;
  /** Every address a task could reach a listener of this machine by. */
  const localAddresses = (): string[] => [
    '127.0.0.1',
    '127.0.0.2',
    '::1',
    ...Object.values(networkInterfaces())
      .flat()
      .filter((i) => i !== undefined && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address),
  ];

  before(async () => {
    metadata = await listen();
    other = await listen();
    firewall = new MetadataFirewall({
      endpoints: metadataEndpoints(`http://localhost:${portOf(metadata)}/`),
      taskUids: { first: FIRST_UID, last: LAST_UID },
      logger: silentLogger(),
    });
    assert.equal(firewall.install(), true);
  });

  after(() => {
    firewall.remove();
    metadata.close();
    other.close();
  });

  it("keeps task uids from the agent's local metadata service by any address of the machine", async () => {
    const addresses = localAddresses();
    assert.deepEqual(
      await connectAs(OUTSIDER_UID, portOf(metadata), addresses),
      addresses.map(() => 'ok'),
    );
    assert.deepEqual(
      await connectAs(FIRST_UID, portOf(metadata), addresses),
      addresses.map(() => 'ConnectionRefusedError'),
    );
    assert.deepEqual(await connectAs(LAST_UID, portOf(metadata), ['::1']), ['ConnectionRefusedError']);
    // Other services of the machine stay reachable.
    assert.deepEqual(
      await connectAs(FIRST_UID, portOf(other), addresses),
      addresses.map(() => 'ok'),
    );
  });
});

/** A machine whose ip6tables cannot be used (IPv6 off, or the binary missing): IPv4 must still be blocked. */
(canFilter ? describe : describe.skip)('metadata firewall without ip6tables', function () {
  this.timeout(30_000);
  let metadata: Server;
  let bin: string;
  let firewall: MetadataFirewall | undefined;
  const path = process.env.PATH;

  before(async () => {
    metadata = createServer((socket) => socket.end());
    metadata.listen(0, '127.0.0.1');
    await once(metadata, 'listening');
    bin = mkdtempSync(join(tmpdir(), 'spillway-fw-bin-'));
    symlinkSync('/usr/sbin/iptables', join(bin, 'iptables'));
    writeFileSync(
      join(bin, 'ip6tables'),
      '#!/bin/sh\necho "ip6tables: can\'t initialize ip6tables table filter" >&2\nexit 3\n',
      {
        mode: 0o755,
      },
    );
  });

  after(() => {
    process.env.PATH = path;
    firewall?.remove();
    metadata.close();
    rmSync(bin, { recursive: true, force: true });
  });

  it('blocks the metadata service over IPv4 all the same', async () => {
    const port = (metadata.address() as AddressInfo).port;
    process.env.PATH = `${bin}:/usr/bin:/bin`;
    try {
      firewall = new MetadataFirewall({
        endpoints: metadataEndpoints(`http://127.0.0.1:${port}/`),
        taskUids: { first: FIRST_UID, last: LAST_UID },
        logger: silentLogger(),
      });
      assert.equal(firewall.install(), true);
      firewall.allow(LAST_UID);
      firewall.forbid(LAST_UID);
    } finally {
      process.env.PATH = path;
    }
    assert.deepEqual(await connectAs(OUTSIDER_UID, port, ['127.0.0.1']), ['ok']);
    assert.deepEqual(await connectAs(FIRST_UID, port, ['127.0.0.1']), ['ConnectionRefusedError']);
  });
});
