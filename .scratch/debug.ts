import { plan } from '../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { fluidLowerBound } from '../src/cost-model/lower-bound.ts';
import { benchOfferings } from '../bench/lib/catalog-offerings.ts';
import { drawWorkloads } from '../bench/lib/workloads.ts';
import { offeringKey } from '../src/core/offering.ts';
const POLICY = { ...PRODUCTION_POLICY, pendingGraceMs: 0, limits: { maxInstances: 1e6, maxVcpus: 1e8, maxGpus: 1e6 } };
const want = process.argv[2]!;
const offerings = benchOfferings();
const ws = drawWorkloads(240, 20260101, { minTasks: 20, maxTasks: 300 });
const w = ws.find((x) => x.name === want)!;
const shapes = new Map<string, number>();
for (const t of w.tasks) { const k = `${t.resources.cpuMillis/1000}c/${t.resources.memoryMiB/1024}G/${t.resources.gpus}g/${t.revocable?'R':'-'}`; shapes.set(k, (shapes.get(k) ?? 0) + 1); }
console.log('shapes', [...shapes.entries()].sort((a,b)=>b[1]-a[1]).map(([k,n])=>`${n}x${k}`).join(' '));
const r = plan({ nowMs: 0, policy: POLICY, pending: w.tasks, agents: [], openLaunches: [], offerings, unavailable: new Set() });
let cost = 0;
const byId = new Map(w.tasks.map((t) => [t.id, t]));
for (const l of r.launches) {
  cost += l.count * l.offering.pricePerHourMicros;
  const ts = l.taskIds.map((id) => byId.get(id)!);
  const cpu = ts.reduce((s, t) => s + t.resources.cpuMillis, 0) / (l.count * l.offering.capacity.cpuMillis);
  const mem = ts.reduce((s, t) => s + t.resources.memoryMiB, 0) / (l.count * l.offering.capacity.memoryMiB);
  console.log(`${l.count} x ${l.offering.instanceType} ${l.offering.lifecycle} $${(l.offering.pricePerHourMicros/1e6).toFixed(4)} cap ${l.offering.capacity.cpuMillis/1000}c/${(l.offering.capacity.memoryMiB/1024).toFixed(1)}G/${l.offering.capacity.gpus}g tasks ${ts.length} util cpu ${cpu.toFixed(2)} mem ${mem.toFixed(2)}`);
}
const lb = await fluidLowerBound(w.tasks, offerings, POLICY);
console.log('plan', cost / 1e6, 'lb', lb.costPerHourMicros / 1e6, 'ratio', cost / lb.costPerHourMicros, lb.stats);
const byKey = new Map(offerings.map((o) => [offeringKey(o), o]));
for (const i of lb.instances) { const o = byKey.get(i.offeringKey)!; console.log(`  LP ${i.count.toFixed(3)} x ${o.instanceType} ${o.lifecycle} $${(o.pricePerHourMicros/1e6).toFixed(4)} cap ${o.capacity.cpuMillis/1000}c/${(o.capacity.memoryMiB/1024).toFixed(1)}G/${o.capacity.gpus}g`); }
const dual = new Map<string, number>();
for (const c of lb.classes) for (const id of c.taskIds) dual.set(id, c.marginalCostPerHourMicros);
console.log('--- plan bins by efficiency (sum of task marginal / price)');
for (const l of r.launches) {
  const v = l.taskIds.reduce((s, id) => s + dual.get(id)!, 0);
  console.log(`${(v / (l.count * l.offering.pricePerHourMicros)).toFixed(3)} loss $${((l.count * l.offering.pricePerHourMicros - v)/1e6).toFixed(4)} ${l.count} x ${l.offering.instanceType} ${l.offering.lifecycle}: ${l.taskIds.map(id=>{const t=byId.get(id)!.resources;return `${t.cpuMillis/1000}/${t.memoryMiB/1024}${byId.get(id)!.revocable?"R":""}`}).join(' ')}`);
}
