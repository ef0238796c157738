import { Ec2Fault } from './ec2-fault.ts';

/**
 * The parameters of one EC2 Query API request (form-encoded: `Action=RunInstances&Version=2016-11-15&MinCount=1&...`),
 * with readers for EC2's encodings: lists as `Name.N`, structures as `Name.Member`, filters as
 * `Filter.N.Name` / `Filter.N.Value.M`. Readers throw Ec2Fault with EC2's codes for bad values.
 */
export class QueryParams {
  readonly #params: Map<string, string>;

  constructor(body: string) {
    this.#params = new Map(new URLSearchParams(body));
  }

  get action(): string {
    return this.#params.get('Action') ?? '';
  }

  get version(): string {
    return this.#params.get('Version') ?? '';
  }

  string(name: string): string | undefined {
    return this.#params.get(name);
  }

  required(name: string): string {
    const value = this.#params.get(name);
    if (value === undefined || value === '') {
      throw new Ec2Fault('MissingParameter', `The request must contain the parameter ${name}`);
    }
    return value;
  }

  integer(name: string): number | undefined {
    const value = this.#params.get(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n))
      throw new Ec2Fault('InvalidParameterValue', `Value (${value}) for parameter ${name} is invalid.`);
    return n;
  }

  time(name: string): number | undefined {
    const value = this.#params.get(name);
    if (value === undefined) return undefined;
    const ms = Date.parse(value);
    if (Number.isNaN(ms))
      throw new Ec2Fault('InvalidParameterValue', `Value (${value}) for parameter ${name} is invalid.`);
    return ms;
  }

  /** `Name.1`, `Name.2`, ... in order. */
  list(prefix: string): string[] {
    return this.#indexes(prefix).map((i) => this.#params.get(`${prefix}.${i}`) ?? '');
  }

  /** The indexes N of `prefix.N...` keys, ascending. */
  #indexes(prefix: string): number[] {
    const found = new Set<number>();
    for (const key of this.#params.keys()) {
      if (!key.startsWith(`${prefix}.`)) continue;
      const n = Number(key.slice(prefix.length + 1).split('.')[0]);
      if (Number.isInteger(n) && n > 0) found.add(n);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** `Filter.N.Name` with its `Filter.N.Value.M`. */
  filters(): Array<{ name: string; values: string[] }> {
    return this.#indexes('Filter').map((i) => ({
      name: this.#params.get(`Filter.${i}.Name`) ?? '',
      values: this.list(`Filter.${i}.Value`),
    }));
  }

  /** `TagSpecification.N.ResourceType` with its `TagSpecification.N.Tag.M.Key/Value`. */
  tagSpecifications(): Array<{ resourceType: string; tags: Array<{ key: string; value: string }> }> {
    return this.#indexes('TagSpecification').map((i) => ({
      resourceType: this.#params.get(`TagSpecification.${i}.ResourceType`) ?? '',
      tags: this.#indexes(`TagSpecification.${i}.Tag`).map((j) => ({
        key: this.#params.get(`TagSpecification.${i}.Tag.${j}.Key`) ?? '',
        value: this.#params.get(`TagSpecification.${i}.Tag.${j}.Value`) ?? '',
      })),
    }));
  }

  /**
   * Every parameter but Action, Version and ClientToken, sorted: two requests with the same key made the same ask.
   * EC2 compares a repeated ClientToken's request this way.
   */
  canonicalKey(): string {
    return [...this.#params.entries()]
      .filter(([k]) => k !== 'Action' && k !== 'Version' && k !== 'ClientToken')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
  }
}
