/** Who a task belongs to: the unit of budgets and chargeback. */
export interface Owner {
  readonly team: string;
  readonly project: string;
  readonly job: string;
}

export const DEFAULT_OWNER: Owner = Object.freeze({ team: 'default', project: 'default', job: 'default' });

/** An owner's part of a launch decision. Shares of one intent sum to 1. */
export interface OwnerShare {
  readonly owner: Owner;
  readonly share: number;
}

export function ownerKey(owner: Owner): string {
  return `${owner.team}/${owner.project}/${owner.job}`;
}
