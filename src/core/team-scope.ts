import type { Owner } from './owner.ts';

/**
 * What a scoped token may act on: the teams it names and, optionally, projects within them. A token without a scope
 * (admin, unscoped finance) sees every team; that is `undefined` wherever a scope is taken, never an empty list.
 */
export interface TeamScope {
  /** At least one team. */
  readonly teams: readonly string[];
  /** When set, only these project names within the teams. */
  readonly projects?: readonly string[];
}

/**
 * Whether an owner (a task's, a chargeback row's) falls inside the scope; every owner does when there is none. An
 * owner without a project (a whole team's row) is outside a scope that names projects: it counts the other projects.
 */
export function scopeAllows(
  scope: TeamScope | undefined,
  owner: Pick<Owner, 'team'> & { readonly project?: string | null },
): boolean {
  if (scope === undefined) return true;
  if (!scope.teams.includes(owner.team)) return false;
  if (scope.projects === undefined) return true;
  return typeof owner.project === 'string' && scope.projects.includes(owner.project);
}

/** `teams vision, ml` or `teams vision; projects a, b`, for messages. */
export function describeTeamScope(scope: TeamScope): string {
  const teams = `teams ${scope.teams.join(', ')}`;
  return scope.projects === undefined ? teams : `${teams}; projects ${scope.projects.join(', ')}`;
}
