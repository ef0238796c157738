import { plan } from '../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { benchOfferings } from '../bench/lib/catalog-offerings.ts';
import { manyTasks } from '../bench/planner-speed.ts';
const POLICY = { ...PRODUCTION_POLICY, pendingGraceMs: 0, limits: { maxInstances: 1e7, maxVcpus: 1e9, maxGpus: 1e7 } };
const offerings = benchOfferings();
for (const n of [20000, 100000]) {
  const pending = manyTasks(n, 20260101);
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    plan({ nowMs: 0, policy: POLICY, pending, agents: [], openLaunches: [], offerings, unavailable: new Set() });
    const c = process.cpuUsage(c0);
    console.log(n, 'wall', (performance.now() - t0).toFixed(0), 'cpu', ((c.user + c.system) / 1000).toFixed(0));
  }
}
