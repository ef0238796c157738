import { plan } from '../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { benchOfferings } from '../bench/lib/catalog-offerings.ts';
import { manyTasks } from '../bench/planner-speed.ts';
const POLICY = { ...PRODUCTION_POLICY, pendingGraceMs: 0, limits: { maxInstances: 1e7, maxVcpus: 1e9, maxGpus: 1e7 } };
const offerings = benchOfferings();
const n = Number(process.argv[2] ?? 20000);
const pending = manyTasks(n, 20260101);
const { groupTasks } = await import('../src/autoscaler/planner-groups.ts');
const g = groupTasks(pending);
console.log('groups', g.groups.length, 'classes', g.classes.length);
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  const r = plan({ nowMs: 0, policy: POLICY, pending, agents: [], openLaunches: [], offerings, unavailable: new Set() });
  console.log(n, (performance.now() - t0).toFixed(0), 'ms', r.launches.length);
}
