import { Ec2Fault } from './ec2-fault.ts';
import type { EmulatedInstance } from './emulated-instance.ts';

/** EC2 filter values may use `*` (any characters) and `?` (one character). */
function globMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${regex}$`, 's').test(value);
}

/** The DescribeInstances filters the emulator knows, by name; `tag:<key>` is handled apart. */
const FIELDS: Readonly<Record<string, (i: EmulatedInstance) => readonly string[]>> = {
  'instance-id': (i) => [i.id],
  'instance-state-name': (i) => [i.state],
  'instance-type': (i) => [i.instanceType],
  'availability-zone': (i) => [i.zone],
  'subnet-id': (i) => [i.subnetId],
  'client-token': (i) => (i.clientToken ? [i.clientToken] : []),
  'instance-lifecycle': (i) => (i.lifecycle === 'spot' ? ['spot'] : []),
  'reservation-id': (i) => [i.reservationId],
  'tag-key': (i) => [...i.tags.keys()],
};

/**
 * A DescribeInstances filter list as EC2 applies it: every filter must match (AND), any of a filter's values may
 * (OR). Throws InvalidParameterValue for a filter name EC2 would not know.
 */
export function instanceFilter(
  filters: ReadonlyArray<{ name: string; values: string[] }>,
): (i: EmulatedInstance) => boolean {
  const checks = filters.map(({ name, values }) => {
    if (values.length === 0) throw new Ec2Fault('InvalidParameterValue', `The filter '${name}' has no values`);
    if (name.startsWith('tag:')) {
      const key = name.slice('tag:'.length);
      return (i: EmulatedInstance): boolean => {
        const value = i.tags.get(key);
        return value !== undefined && values.some((v) => globMatches(v, value));
      };
    }
    const field = FIELDS[name];
    if (!field) throw new Ec2Fault('InvalidParameterValue', `The filter '${name}' is invalid`);
    return (i: EmulatedInstance): boolean => field(i).some((actual) => values.some((v) => globMatches(v, actual)));
  });
  return (i) => checks.every((check) => check(i));
}
