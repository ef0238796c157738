/** An instance type as DescribeInstanceTypes tells it. */
export interface EmulatedInstanceType {
  readonly instanceType: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly networkPerformance: string;
  readonly gpus?: readonly {
    readonly name: string;
    readonly manufacturer: string;
    readonly count: number;
    readonly memoryMiB: number;
  }[];
}

/**
 * A few real types with their real specs (see data/prices/aws_instance_specs_karpenter.csv and EC2's instance type
 * pages), enough for the tests; an emulator takes its own list when a test needs others.
 */
export const DEFAULT_INSTANCE_TYPES: readonly EmulatedInstanceType[] = [
  { instanceType: 't3.medium', vcpus: 2, memoryMiB: 4096, networkPerformance: 'Up to 5 Gigabit' },
  { instanceType: 'c7i.large', vcpus: 2, memoryMiB: 4096, networkPerformance: 'Up to 12.5 Gigabit' },
  { instanceType: 'm7i.large', vcpus: 2, memoryMiB: 8192, networkPerformance: 'Up to 12.5 Gigabit' },
  { instanceType: 'm7a.large', vcpus: 2, memoryMiB: 8192, networkPerformance: 'Up to 12.5 Gigabit' },
  { instanceType: 'm7i.xlarge', vcpus: 4, memoryMiB: 16384, networkPerformance: 'Up to 12.5 Gigabit' },
  {
    instanceType: 'g5.xlarge',
    vcpus: 4,
    memoryMiB: 16384,
    networkPerformance: 'Up to 10 Gigabit',
    gpus: [{ name: 'A10G', manufacturer: 'NVIDIA', count: 1, memoryMiB: 24576 }],
  },
];

/** us-east-1 spot prices in USD per hour (data/prices/aws_ec2_prices_3regions.csv), the same in every zone at start. */
export const DEFAULT_SPOT_PRICES_USD: Readonly<Record<string, number>> = {
  't3.medium': 0.0179,
  'c7i.large': 0.0403,
  'm7i.large': 0.0449,
  'm7a.large': 0.048,
  'm7i.xlarge': 0.0897,
  'g5.xlarge': 0.39388,
};

/** us-east-1 on-demand prices in USD per hour, for configs that mirror the emulator (EC2 serves none of these). */
export const ON_DEMAND_PRICES_USD: Readonly<Record<string, number>> = {
  't3.medium': 0.0416,
  'c7i.large': 0.08925,
  'm7i.large': 0.1008,
  'm7a.large': 0.11592,
  'm7i.xlarge': 0.2016,
  'g5.xlarge': 1.006,
};
