import { ownerKey, type Owner, type OwnerShare } from '../core/owner.ts';
import { dominantShare, type Resources } from '../core/resources.ts';

/** What an owner's share is computed from: a task's owner and resources. */
export type ShareTask = { readonly owner: Owner; readonly resources: Resources };

interface Entry {
  readonly owner: Owner;
  readonly job: string;
  /** The entry's team and project, ranked by `${team}/${project}/`. */
  readonly scope: { readonly prefix: string; rank: number };
  weight: number;
}

/**
 * The owners' shares of a launch of `capacity` packed with `tasks` (pure): each owner (`ownerKey`: team, project,
 * job) weighs the sum of its tasks' dominant shares of the capacity (at least 1e-9 each), as a part of the whole.
 * Heaviest first, then by `ownerKey`. An owner is the first task's owner object of its key.
 *
 * Owners are jobs, so a launch for many tasks has about as many owners: the tasks are counted by team, project and
 * job in nested maps (no key string per task) and ordered by a rank of each distinct team and project, then the job,
 * which is the order of `ownerKey` when no team or project holds a '/' (then no key is a proper prefix of another's
 * team and project part, nor two owners share a key). When one does, the keys are built and compared as strings.
 */
export function ownerShares(tasks: readonly ShareTask[], capacity: Resources): OwnerShare[] {
  const teams = new Map<string, Map<string, { prefix: string; rank: number; jobs: Map<string, Entry> }>>();
  const entries: Entry[] = [];
  let slashed = false;
  // Tasks come instance by instance, item by item: runs of one shape. Their weight is computed once per run.
  let last: Resources | undefined;
  let lastWeight = 0;
  for (const task of tasks) {
    const { team, project, job } = task.owner;
    let projects = teams.get(team);
    if (!projects) teams.set(team, (projects = new Map()));
    let scope = projects.get(project);
    if (!scope) {
      projects.set(project, (scope = { prefix: `${team}/${project}/`, rank: 0, jobs: new Map() }));
      slashed ||= team.includes('/') || project.includes('/');
    }
    let entry = scope.jobs.get(job);
    if (!entry) {
      entry = { owner: task.owner, job, scope, weight: 0 };
      scope.jobs.set(job, entry);
      entries.push(entry);
    }
    const r = task.resources;
    if (
      last === undefined ||
      r.cpuMillis !== last.cpuMillis ||
      r.memoryMiB !== last.memoryMiB ||
      r.gpus !== last.gpus ||
      r.netMbps !== last.netMbps
    ) {
      last = r;
      lastWeight = Math.max(dominantShare(r, capacity), 1e-9);
    }
    entry.weight += lastWeight;
  }
  if (slashed) return byKey(tasks, capacity);
  const scopes = [...teams.values()].flatMap((projects) => [...projects.values()]);
  scopes.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0)).forEach((s, i) => (s.rank = i));
  let total = 0;
  for (const e of entries) total += e.weight;
  entries.sort(
    (a, b) => b.weight - a.weight || a.scope.rank - b.scope.rank || (a.job < b.job ? -1 : a.job > b.job ? 1 : 0),
  );
  return entries.map((e) => ({ owner: e.owner, share: e.weight / total }));
}

/** `ownerShares` keyed and ordered by `ownerKey` strings: for names that hold a '/'. */
function byKey(tasks: readonly ShareTask[], capacity: Resources): OwnerShare[] {
  const weights = new Map<string, { owner: Owner; key: string; weight: number }>();
  for (const task of tasks) {
    const key = ownerKey(task.owner);
    let entry = weights.get(key);
    if (!entry) weights.set(key, (entry = { owner: task.owner, key, weight: 0 }));
    entry.weight += Math.max(dominantShare(task.resources, capacity), 1e-9);
  }
  let total = 0;
  for (const e of weights.values()) total += e.weight;
  return [...weights.values()]
    .sort((a, b) => b.weight - a.weight || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => ({ owner: e.owner, share: e.weight / total }));
}
