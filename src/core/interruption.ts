/**
 * The reason the pool records on an agent drained by a spot interruption notice, and on the tasks it returned to
 * pending. The controller reads it to plan their replacement at once (autoscaler/interruptions.ts).
 */
export const INTERRUPTION_REASON = 'spot interruption notice';
