import {
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type DescribeInstanceTypesCommandInput,
  type DescribeInstanceTypesCommandOutput,
  type DescribeSpotPriceHistoryCommandInput,
  type DescribeSpotPriceHistoryCommandOutput,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
  type TerminateInstancesCommandInput,
  type TerminateInstancesCommandOutput,
} from '@aws-sdk/client-ec2';

export interface Ec2CallOptions {
  readonly signal?: AbortSignal;
}

/**
 * The second seam of the adapter: exactly the EC2 calls Spillway makes, in the SDK's own shapes. Implementations
 * make one attempt per call (no retries of their own) and throw what the SDK throws; the adapter translates errors.
 */
export interface Ec2Api {
  runInstances(input: RunInstancesCommandInput, opts?: Ec2CallOptions): Promise<RunInstancesCommandOutput>;
  terminateInstances(
    input: TerminateInstancesCommandInput,
    opts?: Ec2CallOptions,
  ): Promise<TerminateInstancesCommandOutput>;
  describeInstances(
    input: DescribeInstancesCommandInput,
    opts?: Ec2CallOptions,
  ): Promise<DescribeInstancesCommandOutput>;
  describeInstanceTypes(
    input: DescribeInstanceTypesCommandInput,
    opts?: Ec2CallOptions,
  ): Promise<DescribeInstanceTypesCommandOutput>;
  describeSpotPriceHistory(
    input: DescribeSpotPriceHistoryCommandInput,
    opts?: Ec2CallOptions,
  ): Promise<DescribeSpotPriceHistoryCommandOutput>;
  /** Closes pooled connections. */
  close(): void;
}

/** Static credentials, for tests and emulators. Production leaves them out and uses the SDK's default chain. */
export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SdkEc2ApiOptions {
  readonly region: string;
  /** Overrides the regional endpoint: a VPC interface endpoint, or an emulator in tests. */
  readonly endpoint?: string;
  /**
   * Explicit credentials. When absent the SDK's default provider chain applies (environment, shared files, SSO,
   * web identity, container and instance roles), which is what production wants.
   */
  readonly credentials?: StaticCredentials;
  /** How long one call may take, connection included, before it fails as a network error. */
  readonly requestTimeoutMs: number;
}

/**
 * The Ec2Api over `@aws-sdk/client-ec2`. The SDK's retries are off (`maxAttempts: 1`): a throttled or failed call
 * comes back at once, and Spillway's provisioner retries it on its own clock with the same idempotency key.
 */
export function sdkEc2Api(opts: SdkEc2ApiOptions): Ec2Api {
  const client = new EC2Client({
    region: opts.region,
    maxAttempts: 1,
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.credentials === undefined ? {} : { credentials: { ...opts.credentials } }),
    requestHandler: {
      connectionTimeout: Math.min(opts.requestTimeoutMs, 10_000),
      requestTimeout: opts.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  const options = (o: Ec2CallOptions): { abortSignal?: AbortSignal } =>
    o.signal === undefined ? {} : { abortSignal: o.signal };
  return {
    runInstances: (input, o = {}) => client.send(new RunInstancesCommand(input), options(o)),
    terminateInstances: (input, o = {}) => client.send(new TerminateInstancesCommand(input), options(o)),
    describeInstances: (input, o = {}) => client.send(new DescribeInstancesCommand(input), options(o)),
    describeInstanceTypes: (input, o = {}) => client.send(new DescribeInstanceTypesCommand(input), options(o)),
    describeSpotPriceHistory: (input, o = {}) => client.send(new DescribeSpotPriceHistoryCommand(input), options(o)),
    close: () => client.destroy(),
  };
}
