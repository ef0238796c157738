import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { configSchema } from '../../src/config/schema.ts';
import { resources } from '../../src/core/resources.ts';
import { DEFAULT_PRIVATE_RATES, privatePricePerHourMicros } from '../../src/cost-model/private-rates.ts';

describe('private rates', () => {
  const rates = { usdPerCpuHour: 0.02, usdPerGiBHour: 0.0025, usdPerGpuHour: 0.8 };
  const cases = [
    { name: 'nothing costs nothing', capacity: resources(), expected: 0 },
    { name: 'CPU and memory', capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }), expected: 50_000 },
    { name: 'GPUs', capacity: resources({ cpuMillis: 8000, memoryMiB: 65_536, gpus: 1 }), expected: 1_120_000 },
    { name: 'bandwidth is free', capacity: resources({ netMbps: 10_000 }), expected: 0 },
    { name: 'fractions round once, at the end', capacity: resources({ cpuMillis: 1, memoryMiB: 1 }), expected: 22 },
  ];
  for (const c of cases) {
    it(`amortizes private capacity per resource-hour: ${c.name}`, () => {
      assert.equal(privatePricePerHourMicros(c.capacity, rates), c.expected);
    });
  }

  it('takes its rates from config, with defaults', () => {
    const base = { clusterId: 'c1' };
    assert.deepEqual(configSchema.parse(base).privateRates, DEFAULT_PRIVATE_RATES);
    assert.deepEqual(configSchema.parse({ ...base, privateRates: { usdPerGpuHour: 1.2 } }).privateRates, {
      ...DEFAULT_PRIVATE_RATES,
      usdPerGpuHour: 1.2,
    });
    assert.throws(() => configSchema.parse({ ...base, privateRates: { usdPerCpuHour: -1 } }));
    assert.throws(() => configSchema.parse({ ...base, privateRates: { usdPerTbHour: 1 } }));
    assert.equal(configSchema.parse({ ...base, priceCatalog: 'prices.json' }).priceCatalog, 'prices.json');
  });
});
