import type { Agent } from '../core/agent.ts';
import type { Offering } from '../core/offering.ts';
import { fits, isZero } from '../core/resources.ts';
import type { Task } from '../core/task.ts';
import { eligible, offeringHost } from '../pool/builtin/eligibility.ts';

/**
 * Whether a pending task should take free room on a running cloud agent rather than an instance of its own (pure).
 *
 * Room on a busy agent is paid for anyway, but only while the agent's other tasks run: a task placed there keeps the
 * whole agent alive if it outlives them. Run times are unknown, so they are taken as alike and memoryless: the task
 * then keeps the agent alive half a run longer on average, and costs the agent's price for half a run, against its
 * own cheapest instance's price for a whole run (plus its boot, left out: a slight lean to warm room). On an idle
 * agent the task pays the agent's whole price for its run. So warm room wins when the agent's price is at most
 * twice (busy) or once (idle) the price of the cheapest allowed instance that would hold the task alone; a task no
 * allowed offering holds takes any room.
 */
export function warmRoomPays(agent: Agent, cheapestOwnPricePerHourMicros: number | undefined): boolean {
  if (cheapestOwnPricePerHourMicros === undefined) return true;
  const share = isZero(agent.allocated) ? 1 : 0.5;
  return agent.pricePerHourMicros * share <= cheapestOwnPricePerHourMicros;
}

/**
 * The price of the cheapest of `offerings` (allowed ones, cheapest first) that holds `task` alone and may run it;
 * undefined when none does.
 */
export function cheapestHolderPrice(task: Task, offerings: readonly Offering[]): number | undefined {
  for (const o of offerings)
    if (fits(task.resources, o.capacity) && eligible(task, offeringHost(o))) return o.pricePerHourMicros;
  return undefined;
}
