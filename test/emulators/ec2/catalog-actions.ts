import type { Clock } from '../../../src/core/clock.ts';
import type { EmulatedInstanceType } from './catalog.ts';
import { Ec2Fault } from './ec2-fault.ts';
import type { Admit } from './ec2-world.ts';
import { page } from './paging.ts';
import type { QueryParams } from './query.ts';
import { el, isoTime, itemSet, node, type Xml } from './xml.ts';

interface PricePoint {
  readonly atMs: number;
  readonly usd: number;
}

/** DescribeInstanceTypes and DescribeSpotPriceHistory over the emulator's catalog and spot price history. */
export class CatalogActions {
  readonly #clock: Clock;
  readonly #types: readonly EmulatedInstanceType[];
  readonly #zones: readonly string[];
  /** `type/zone` -> price changes, oldest first. */
  readonly #history = new Map<string, PricePoint[]>();

  constructor(clock: Clock, types: readonly EmulatedInstanceType[], zones: readonly string[]) {
    this.#clock = clock;
    this.#types = types;
    this.#zones = zones;
  }

  /** Records a spot price change at the clock's now. */
  setSpotPrice(instanceType: string, zone: string, usd: number): void {
    const key = `${instanceType}/${zone}`;
    const atMs = this.#clock.now();
    // A second change at the same instant replaces the first.
    const history = (this.#history.get(key) ?? []).filter((p) => p.atMs !== atMs);
    this.#history.set(key, [...history, { atMs, usd }]);
  }

  describeInstanceTypes(q: QueryParams, admit: Admit): Xml[] {
    const names = q.list('InstanceType');
    const unknown = names.filter((n) => !this.#types.some((t) => t.instanceType === n));
    if (unknown.length > 0) {
      throw new Ec2Fault(
        'InvalidInstanceType',
        `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
      );
    }
    if (names.length > 100) throw new Ec2Fault('InvalidParameterValue', 'At most 100 instance types may be given');
    if (!admit([['describeRequests', 1]])) throw new Ec2Fault('RequestLimitExceeded', 'Request limit exceeded.');
    const wanted = names.length === 0 ? this.#types : this.#types.filter((t) => names.includes(t.instanceType));
    const queryKey = q.canonicalKey().replace(/(^|&)(NextToken|MaxResults)=[^&]*/g, '');
    const { items, nextToken } = page(wanted, {
      queryKey,
      nextToken: q.string('NextToken'),
      maxResults: q.integer('MaxResults'),
      min: 5,
      max: 100,
    });
    return [itemSet('instanceTypeSet', items.map(typeXml)), el('nextToken', nextToken)];
  }

  /**
   * Prices of the asked types, product and zones between StartTime and EndTime (default now), plus for each type and
   * zone the last change before StartTime: the price in effect at the start.
   */
  describeSpotPriceHistory(q: QueryParams, admit: Admit): Xml[] {
    const types = q.list('InstanceType');
    const products = q.list('ProductDescription');
    const zoneParam = q.string('AvailabilityZone');
    const filters = q.filters();
    for (const f of filters) {
      if (!['availability-zone', 'instance-type', 'product-description'].includes(f.name)) {
        throw new Ec2Fault('InvalidParameterValue', `The filter '${f.name}' is invalid`);
      }
    }
    const filterValues = (name: string): string[] | undefined => filters.find((f) => f.name === name)?.values;
    if (!admit([['describeRequests', 1]])) throw new Ec2Fault('RequestLimitExceeded', 'Request limit exceeded.');
    const now = this.#clock.now();
    const start = q.time('StartTime');
    const end = q.time('EndTime') ?? now;
    const zones = this.#zones.filter(
      (z) => (zoneParam === undefined || z === zoneParam) && (filterValues('availability-zone')?.includes(z) ?? true),
    );
    const productOk =
      (products.length === 0 || products.includes('Linux/UNIX')) &&
      (filterValues('product-description')?.includes('Linux/UNIX') ?? true);
    const entries: Array<{ type: string; zone: string; point: PricePoint }> = [];
    if (productOk) {
      for (const t of this.#types) {
        if (types.length > 0 && !types.includes(t.instanceType)) continue;
        if (!(filterValues('instance-type')?.includes(t.instanceType) ?? true)) continue;
        for (const zone of zones) {
          const history = (this.#history.get(`${t.instanceType}/${zone}`) ?? []).filter((p) => p.atMs <= end);
          const inRange = start === undefined ? history : history.filter((p) => p.atMs >= start);
          const before = start === undefined ? undefined : history.filter((p) => p.atMs < start).at(-1);
          for (const point of [...(before ? [before] : []), ...inRange])
            entries.push({ type: t.instanceType, zone, point });
        }
      }
    }
    // Newest first, as EC2 lists them.
    entries.sort((a, b) => b.point.atMs - a.point.atMs || a.type.localeCompare(b.type) || a.zone.localeCompare(b.zone));
    const queryKey = q.canonicalKey().replace(/(^|&)(NextToken|MaxResults)=[^&]*/g, '');
    const { items, nextToken } = page(entries, {
      queryKey,
      nextToken: q.string('NextToken'),
      maxResults: q.integer('MaxResults') ?? 1000,
      min: 5,
      max: 1000,
    });
    const xml = items.map(
      (e) =>
        el('instanceType', e.type) +
        el('productDescription', 'Linux/UNIX') +
        el('spotPrice', e.point.usd.toFixed(6)) +
        el('timestamp', isoTime(e.point.atMs)) +
        el('availabilityZone', e.zone),
    );
    return [itemSet('spotPriceHistorySet', xml), el('nextToken', nextToken)];
  }
}

function typeXml(t: EmulatedInstanceType): Xml {
  const gpus = t.gpus ?? [];
  return [
    el('instanceType', t.instanceType),
    el('currentGeneration', true),
    node('vCpuInfo', [
      el('defaultVCpus', t.vcpus),
      el('defaultCores', Math.max(1, t.vcpus / 2)),
      el('defaultThreadsPerCore', 2),
    ]),
    node('memoryInfo', [el('sizeInMiB', t.memoryMiB)]),
    gpus.length === 0
      ? ''
      : node('gpuInfo', [
          itemSet(
            'gpus',
            gpus.map(
              (g) =>
                el('name', g.name) +
                el('manufacturer', g.manufacturer) +
                el('count', g.count) +
                node('memoryInfo', [el('sizeInMiB', g.memoryMiB)]),
            ),
          ),
          el(
            'totalGpuMemoryInMiB',
            gpus.reduce((sum, g) => sum + g.count * g.memoryMiB, 0),
          ),
        ]),
    node('networkInfo', [el('networkPerformance', t.networkPerformance)]),
  ].join('');
}
