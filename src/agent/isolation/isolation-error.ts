import { SpillwayError } from '../../core/errors.ts';

/** The OS refused a step of a task's isolation (a cgroup write, a folder, the uid range). */
export class IsolationError extends SpillwayError {
  override readonly name = 'IsolationError';
}
