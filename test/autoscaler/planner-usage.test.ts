import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { Usage, vcpus } from '../../src/autoscaler/planner-usage.ts';
import type { Limits } from '../../src/core/policy.ts';
import { agent, cloudAgent, launchIntent, offering, policy } from '../fakes/builders.ts';

/**
 * The planner's tally of cloud instances, vCPUs and GPUs against the burst limits (planner-usage.ts), on its own:
 * what counts (running cloud agents, the unadopted part of open launch intents, what the plan adds), against which
 * scope (total, provider id, provider kind), and the reason an operator reads when a limit is hit.
 */

/** Limits that never bind, with the given ones lowered. */
function limits(over: Partial<Limits> = {}): Limits {
  return { maxInstances: 1_000, maxVcpus: 100_000, maxGpus: 1_000, ...over };
}

/** An AWS offering of 1.5 CPUs (2 vCPUs against the limit) and one GPU. */
const aws = offering({
  providerId: 'aws-ec2:us-east-1',
  provider: 'aws-ec2',
  instanceType: 'g.small',
  capacity: { cpuMillis: 1500, memoryMiB: 4096, gpus: 1 },
});
const awsLocation = { kind: 'cloud' as const, provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' };

/** An AWS agent of `aws`'s shape, optionally adopted from an intent. */
function awsAgent(intentId: string | null = null): ReturnType<typeof cloudAgent> {
  return cloudAgent({
    location: awsLocation,
    providerId: 'aws-ec2:us-east-1',
    capacity: { cpuMillis: 1500, memoryMiB: 4096, gpus: 1 },
    intentId,
  });
}

describe('planner: usage against the burst limits', () => {
  it('counts a vCPU for every started thousand CPU millis', () => {
    assert.equal(vcpus({ cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 }), 0);
    assert.equal(vcpus({ cpuMillis: 1000, memoryMiB: 0, gpus: 0, netMbps: 0 }), 1);
    assert.equal(vcpus({ cpuMillis: 1001, memoryMiB: 0, gpus: 0, netMbps: 0 }), 2);
    assert.equal(vcpus({ cpuMillis: 2500, memoryMiB: 64, gpus: 3, netMbps: 10 }), 3);
  });

  it('admits up to maxInstances and names the total limit for the next one', () => {
    const usage = new Usage(policy({ limits: limits({ maxInstances: 3 }) }), [awsAgent()], []);
    // One running: a second and a third fit under 3, a fourth does not.
    assert.equal(usage.limitHit(aws), undefined);
    assert.equal(usage.admits(aws), true);
    usage.add(aws);
    assert.equal(usage.admits(aws), true);
    usage.add(aws);
    assert.equal(usage.admits(aws), false);
    assert.equal(usage.limitHit(aws), 'total maxInstances=3');
  });

  it('counts rounded-up vCPUs and GPUs, naming the limit the next instance would pass', () => {
    // One agent of 2 vCPUs and 1 GPU; each more instance adds the same.
    const byVcpus = new Usage(policy({ limits: limits({ maxVcpus: 4 }) }), [awsAgent()], []);
    assert.equal(byVcpus.limitHit(aws), undefined, '2 + 2 vCPUs fit under 4');
    byVcpus.add(aws);
    assert.equal(byVcpus.limitHit(aws), 'total maxVcpus=4', '4 + 2 vCPUs do not');

    const byGpus = new Usage(policy({ limits: limits({ maxGpus: 2 }) }), [awsAgent()], []);
    assert.equal(byGpus.limitHit(aws), undefined, '1 + 1 GPUs fit under 2');
    byGpus.add(aws);
    assert.equal(byGpus.limitHit(aws), 'total maxGpus=2', '2 + 1 GPUs do not');

    // With every limit passed, the first in the order instances, vCPUs, GPUs is named.
    const all = new Usage(policy({ limits: { maxInstances: 1, maxVcpus: 2, maxGpus: 1 } }), [awsAgent()], []);
    assert.equal(all.limitHit(aws), 'total maxInstances=1');
    const two = new Usage(policy({ limits: { maxInstances: 9, maxVcpus: 2, maxGpus: 1 } }), [awsAgent()], []);
    assert.equal(two.limitHit(aws), 'total maxVcpus=2');
  });

  it('counts running cloud agents only: not private agents, nor a cloud agent without a provider id', () => {
    const agents = [
      awsAgent(),
      agent({ capacity: { cpuMillis: 64_000, gpus: 8 } }),
      cloudAgent({ location: awsLocation, providerId: null, capacity: { cpuMillis: 64_000, gpus: 8 } }),
    ];
    // Only the first counts: 1 instance, 2 vCPUs, 1 GPU; one more reaches every limit exactly.
    const usage = new Usage(policy({ limits: { maxInstances: 2, maxVcpus: 4, maxGpus: 2 } }), agents, []);
    assert.equal(usage.limitHit(aws), undefined);
    usage.add(aws);
    assert.equal(usage.limitHit(aws), 'total maxInstances=2');
  });

  it('counts an open launch for the instances not yet adopted as agents', () => {
    const intent = launchIntent(aws, { count: 4 });
    const other = launchIntent(aws, { count: 2 });
    // Two of the four adopted (as agents carrying its id), none of the other's: 2 agents + 2 + 2 in flight = 6.
    const agents = [awsAgent(intent.id), awsAgent(intent.id)];
    const at = (maxInstances: number): Usage => new Usage(policy({ limits: limits({ maxInstances }) }), agents, [intent, other]);
    assert.equal(at(7).limitHit(aws), undefined);
    assert.equal(at(6).limitHit(aws), 'total maxInstances=6');
    // In flight counts its vCPUs and GPUs per instance too: 6 x 2 vCPUs, 6 GPUs.
    const vcpuBound = new Usage(policy({ limits: limits({ maxVcpus: 14 }) }), agents, [intent, other]);
    assert.equal(vcpuBound.limitHit(aws), undefined);
    vcpuBound.add(aws);
    assert.equal(vcpuBound.limitHit(aws), 'total maxVcpus=14');
    const gpuBound = new Usage(policy({ limits: limits({ maxGpus: 7 }) }), agents, [intent, other]);
    assert.equal(gpuBound.limitHit(aws), undefined);
    gpuBound.add(aws);
    assert.equal(gpuBound.limitHit(aws), 'total maxGpus=7');
  });

  it('counts a fully adopted launch for nothing, even when more agents than its count carry its id', () => {
    const done = launchIntent(aws, { count: 1 });
    const agents = [awsAgent(done.id), awsAgent(done.id)];
    // The two agents count; the intent adds nothing and takes nothing away.
    const usage = new Usage(policy({ limits: limits({ maxInstances: 3 }) }), agents, [done]);
    assert.equal(usage.limitHit(aws), undefined);
    usage.add(aws);
    assert.equal(usage.limitHit(aws), 'total maxInstances=3');
  });

  it('checks the total, then the provider id, then the provider kind, each over its own instances', () => {
    const gce = offering({ providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', capacity: { cpuMillis: 1000 } });
    const awsWest = offering({ providerId: 'aws-ec2:us-west-2', provider: 'aws-ec2', capacity: { cpuMillis: 1000 } });
    const p = policy({
      limits: limits({ maxInstances: 10 }),
      providerLimits: { 'aws-ec2:us-east-1': limits({ maxInstances: 2 }), 'aws-ec2': limits({ maxInstances: 3 }) },
    });
    const usage = new Usage(p, [awsAgent()], []);
    usage.add(gce);
    usage.add(gce);
    // 1 in us-east-1: one more there fits its limit of 2; GCE instances count for neither AWS scope.
    assert.equal(usage.limitHit(aws), undefined);
    usage.add(aws);
    assert.equal(usage.limitHit(aws), 'aws-ec2:us-east-1 maxInstances=2');
    // us-west-2 has no limit of its own, but the kind's 3 holds two AWS instances already: one more fits.
    assert.equal(usage.limitHit(awsWest), undefined);
    usage.add(awsWest);
    assert.equal(usage.limitHit(awsWest), 'aws-ec2 maxInstances=3');
    // GCE has no provider limit: only the total (5 of 10) applies.
    assert.equal(usage.limitHit(gce), undefined);
    for (let i = 0; i < 5; i++) usage.add(gce);
    // 10 instances: the total is named first, before the provider id's limit the AWS offering also passes.
    assert.equal(usage.limitHit(gce), 'total maxInstances=10');
    assert.equal(usage.limitHit(aws), 'total maxInstances=10');
  });

  it('counts an instance once when its provider id is its kind', () => {
    const local = offering({ providerId: 'local', provider: 'local' });
    const localAgent = cloudAgent({ providerId: 'local', location: { kind: 'cloud', provider: 'local', region: 'local', zone: 'local-a' } });
    const p = policy({ limits: limits(), providerLimits: { local: limits({ maxInstances: 3 }) } });
    const usage = new Usage(p, [localAgent], [launchIntent(local, { count: 1 })]);
    // 1 agent + 1 in flight, each counted once: a third fits under 3.
    assert.equal(usage.limitHit(local), undefined);
    usage.add(local);
    assert.equal(usage.limitHit(local), 'local maxInstances=3');
  });
});
