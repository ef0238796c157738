import { z } from 'zod';

const nonEmpty = z.string().min(1);
const durationMs = z.number().int().nonnegative();

/**
 * One cloud shape Slurm may grow by: an instance type (of any provider, or one provider) and its `State=FUTURE`
 * placeholder node in slurm.conf. The placeholder carries the shape's CPUs, RealMemory and features, so sbatch accepts
 * jobs only such a node can run (they stay PENDING with ReqNodeNotAvail instead of being rejected); it never runs
 * anything. Cloud nodes of the shape join with `Feature=cloud,<provider>,<instance type>,<features...>`.
 */
export const slurmShapeSchema = z
  .object({
    /** A provider id (`local:cloud`) or kind (`aws-ec2`); default: every provider offering the instance type. */
    provider: nonEmpty.optional(),
    instanceType: nonEmpty,
    /** The State=FUTURE node standing for this shape in slurm.conf. */
    placeholder: nonEmpty,
    /** Node features beyond `cloud`, the provider kind and the instance type: GPU models (`a100`) and the like. */
    features: z.array(nonEmpty.regex(/^[A-Za-z0-9_.-]+$/, 'a Slurm feature: letters, digits, _ . -')).default([]),
  })
  .strict();

/** Local instances only: the network namespaces (one per cloud node) the boot script starts slurmd in. */
const localNodesSchema = z
  .object({
    netns: z.array(nonEmpty).min(1),
    /** A file the boot scripts lock while one of them takes a free namespace. */
    lockFile: nonEmpty,
  })
  .strict();

/** `pool: { kind: slurm }`: Slurm is the pool; Spillway adds and removes its cloud nodes (src/pool/slurm/). */
export const slurmPoolSchema = z
  .object({
    kind: z.literal('slurm'),
    heartbeatIntervalMs: durationMs.min(100).default(1_000),
    lostAfterMs: durationMs.min(500).default(10_000),
    /** SLURM_CONF for squeue, sinfo and scontrol. */
    slurmConf: nonEmpty,
    /** The folder of Slurm's commands; default: found on PATH. */
    binDir: nonEmpty.optional(),
    /** `host:port` of slurmctld as cloud nodes reach it: their `slurmd --conf-server` (configless). */
    confServer: nonEmpty,
    /** The cluster's munge key on the controller: cloud nodes fetch it over the API with their agent credential. */
    mungeKeyFile: nonEmpty,
    /** The munge socket slurm.conf's AuthInfo names (cloud nodes start their munged there). */
    mungeSocket: nonEmpty.default('/run/munge/munge.socket.2'),
    /** JobCompLoc of `JobCompType=jobcomp/filetxt`: chargeback of cloud nodes by Slurm account. */
    jobcompFile: nonEmpty.optional(),
    /** Cloud node names are this prefix and a short hash of the instance id. */
    nodePrefix: nonEmpty.regex(/^[a-z][a-z0-9-]*$/, 'lowercase letters, digits and dashes').default('spw-'),
    /** Slurm account -> Spillway team (budgets and chargeback); an account not listed is its own team. */
    accounts: z.record(z.string(), nonEmpty).default({}),
    /** Pending reasons that count as demand; held jobs, dependencies and association limits do not. */
    pendingReasons: z.array(nonEmpty).default(['Resources', 'Priority', 'ReqNodeNotAvail', 'None']),
    shapes: z.array(slurmShapeSchema).min(1),
    /**
     * A new cloud node counts as capacity on its way (all of it) until Slurm has had this long to schedule on it;
     * after that, as long as it is live, its free room covers the pending jobs that fit it (no second launch for a
     * job Slurm is slow to start).
     */
    settleMs: durationMs.default(5_000),
    /** How long one Slurm command may take. */
    commandTimeoutMs: durationMs.min(100).default(15_000),
    /** Where the boot script keeps a cloud node's files (munge key, logs); `<instance id>` is appended. */
    nodeWorkDir: nonEmpty.default('/var/lib/spillway-node'),
    /** The argv prefix that runs the join step on an instance (`spillway slurm-join`); default this install's. */
    joinCommand: z.array(nonEmpty).min(1).optional(),
    localNodes: localNodesSchema.optional(),
    /** Slurm's own nodes are the private ones: `serve` starts no private agents in this mode. */
    privateAgents: z.never().optional(),
  })
  .strict();

export type SlurmPoolConfig = z.output<typeof slurmPoolSchema>;
export type SlurmShape = z.output<typeof slurmShapeSchema>;
