import { it } from 'mocha';
import { startApiHarness } from '../helpers/api-harness.ts';
import { makeToken } from './helpers/fixture.ts';

it('probe history cost', async function () {
  this.timeout(300000);
  const h = await startApiHarness();
  try {
    const AGENTS = Number(process.env.AGENTS ?? 100), RUNS = Number(process.env.RUNS ?? 200);
    const now = h.clock.now();
    const span = Number(process.env.SPAN_H ?? 24) * 3600_000;
    h.store.transaction(() => {
      for (let a = 0; a < AGENTS; a++) {
        const agentId = `ag-${a}`;
        const start = now - span;
        h.store.ledger.openAgentInterval({ agentId, name: agentId, location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' } as never, provider: 'aws-ec2', providerId: 'aws-ec2:us-east-1', instanceId: `i-${a}`, instanceType: 'm5.large', lifecycle: 'on-demand', pricePerHourMicros: 100_000, capacity: { cpuMillis: 2000, memoryMiB: 8192, gpus: 0, netMbps: 0 }, intentId: null, owners: [{ owner: { team: 'vision' }, share: 1 }], startMs: start } as never);
        for (let r = 0; r < RUNS; r++) {
          const s = start + Math.floor((r * span) / RUNS);
          h.store.ledger.openUsageInterval({ taskId: `t-${a}-${r}`, agentId, owner: { team: r % 2 ? 'vision' : 'ml', project: 'p', job: 'j' } as never, share: 0.5, startMs: s });
          h.store.ledger.closeUsageInterval(`t-${a}-${r}`, s + Math.floor(span / RUNS) - 1);
        }
      }
    });
    const scoped = makeToken(h, 'finance', 'fin-v', { teams: ['vision'] } as never);
    for (const [tok, q] of [[h.tokens.finance, 'P'], [h.tokens.finance, 'resolution=minute']] as const) {
      let maxLag = 0; let last = performance.now();
      const timer = setInterval(() => { const t = performance.now(); maxLag = Math.max(maxLag, t - last - 5); last = t; }, 5);
      const t0 = performance.now();
      const res = await fetch(`${h.server.url}${q === "P" ? "/v1/history/pool?resolution=minute" : "/v1/history/spend?" + q}`, { headers: { authorization: `Bearer ${tok}` } });
      await res.text();
      clearInterval(timer);
      console.log(tok === scoped ? 'scoped' : 'all', q, res.status, Math.round(performance.now() - t0), 'ms; max event-loop lag', Math.round(maxLag));
    }
  } finally {
    await h.close();
  }
});
