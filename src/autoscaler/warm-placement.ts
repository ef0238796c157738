import type { Agent } from '../core/agent.ts';
import type { Offering } from '../core/offering.ts';
import { fits, isZero } from '../core/resources.ts';
import type { TaskHeader } from '../core/task.ts';
import { eligible, offeringHost } from '../pool/builtin/eligibility.ts';
import { allowedOfferings } from '../cost-model/price-book-filter.ts';
import type { Policy } from '../core/policy.ts';
import { OfferingTable } from './planner-offering-table.ts';

/**
 * Whether a pending task should take free room on a running cloud agent rather than an instance of its own (pure).
 *
 * Room on a busy agent is paid for anyway, but only while the agent's other tasks run: a task placed there keeps the
 * whole agent alive if it outlives them. Run times are unknown, so they are taken as alike and memoryless: the task
 * then keeps the agent alive half a run longer on average, and costs the agent's price for half a run, against its
 * own cheapest instance's price for a whole run (plus its boot, left out: a slight lean to warm room). On an idle
 * agent the task pays the agent's whole price for its run. So warm room wins when the agent's price is at most
 * twice (busy) or once (idle) the price of the cheapest allowed instance that would hold the task alone.
 *
 * Any room is taken by a task no allowed offering holds, and by one whose own instance is a whole boot late:
 * `overdueMs` (how long past its grace period it has waited) reached twice that instance's boot time, so a launch
 * for it was refused (a limit, a budget) or is late, and waiting longer would cost more than the room. (At one boot
 * its own instance may be registering right then, and should get it.)
 */
export function warmRoomPays(agent: Agent, own: OwnInstance | undefined, overdueMs: number): boolean {
  if (own === undefined || overdueMs >= OVERDUE_BOOTS * own.bootMs) return true;
  const share = isZero(agent.allocated) ? 1 : 0.5;
  return agent.pricePerHourMicros * share <= own.pricePerHourMicros;
}

/** How many of its own instance's boot times past its grace a task takes any room. */
export const OVERDUE_BOOTS = 2;

/** The instance a task would get of its own: what it costs and how long it takes to come. */
export type OwnInstance = Pick<Offering, 'pricePerHourMicros' | 'bootMs'>;

/** The cheapest of `offerings` (allowed ones, cheapest first) that holds `task` alone and may run it. */
export function cheapestHolder(task: TaskHeader, offerings: readonly Offering[]): Offering | undefined {
  return offerings.find((o) => fits(task.resources, o.capacity) && eligible(task, offeringHost(o)));
}

/**
 * The check a pass's placement asks before a task takes room on a running cloud agent: always while bursting is
 * paused (no instance of its own would come), else when that room costs no more than the task's own cheapest allowed
 * instance (`warmRoomPays`), or that instance should have come by now. Finds each kind of task's cheapest holder once.
 */
export function warmRoomCheck(
  policy: Policy,
  offerings: readonly Offering[],
  nowMs: number,
): (task: TaskHeader, agent: Agent) => boolean {
  if (policy.paused) return () => true;
  let allowed: Offering[] | undefined;
  let holders: Map<string, Offering | undefined> | undefined;
  const cheapest = new Map<string, Offering | undefined>();
  // Placement asks once per task and agent it tries: each task's key is built once, not once per agent.
  const ofTask = new Map<TaskHeader, Offering | undefined>();
  return (task, agent) => {
    let own = ofTask.get(task);
    if (own === undefined && !ofTask.has(task)) {
      const key = JSON.stringify([task.resources, task.constraints, task.revocable]);
      if (!cheapest.has(key)) {
        allowed ??= allowedOfferings(policy, offerings);
        // Remembered per list of allowed offerings (the same list pass after pass): a holder is found once per kind.
        holders ??= rememberedHolders(allowed);
        if (!holders.has(key)) holders.set(key, cheapestHolder(task, allowed));
        cheapest.set(key, holders.get(key));
      }
      own = cheapest.get(key);
      ofTask.set(task, own);
    }
    return warmRoomPays(agent, own, nowMs - task.pendingSinceMs - policy.pendingGraceMs);
  };
}

/** Kinds of task remembered per list of allowed offerings before they are all dropped. */
const HOLDERS_KEPT = 4_096;
const holdersByTable = new WeakMap<OfferingTable, Map<string, Offering | undefined>>();

/**
 * The cheapest holders found before over the same allowed offerings in the same order (OfferingTable matches lists
 * element by element), by kind of task: `cheapestHolder` reads the task's resources, constraints and revocability
 * only, which the key holds.
 */
function rememberedHolders(allowed: readonly Offering[]): Map<string, Offering | undefined> {
  const table = OfferingTable.of(allowed);
  let holders = holdersByTable.get(table);
  if (holders === undefined || holders.size >= HOLDERS_KEPT) holdersByTable.set(table, (holders = new Map()));
  return holders;
}
