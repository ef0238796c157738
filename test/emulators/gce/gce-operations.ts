import { randomBytes } from 'node:crypto';

/** A zone operation as the emulator keeps it. */
export interface EmulatedOperation {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  readonly operationType: string;
  readonly targetLink: string;
  readonly targetId: string;
  readonly insertTimeMs: number;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  endTimeMs: number | undefined;
  /** `error.errors[]` of a failed operation, and the HTTP status it carries. */
  error: { readonly errors: ReadonlyArray<{ code: string; message: string }>; readonly httpStatus: number } | undefined;
}

let counter = 0;

export function newOperation(opts: {
  zone: string;
  operationType: string;
  targetLink: string;
  targetId: string;
  nowMs: number;
}): EmulatedOperation {
  counter++;
  return {
    id: String(7_000_000_000_000 + counter),
    name: `operation-${opts.nowMs}-${randomBytes(6).toString('hex')}-${counter}`,
    zone: opts.zone,
    operationType: opts.operationType,
    targetLink: opts.targetLink,
    targetId: opts.targetId,
    insertTimeMs: opts.nowMs,
    status: 'RUNNING',
    endTimeMs: undefined,
    error: undefined,
  };
}

/** The Operation resource as the REST API answers it. */
export function operationJson(op: EmulatedOperation, project: string, baseUrl: string): Record<string, unknown> {
  const zoneUrl = `${baseUrl}/compute/v1/projects/${project}/zones/${op.zone}`;
  return {
    kind: 'compute#operation',
    id: op.id,
    name: op.name,
    zone: zoneUrl,
    operationType: op.operationType,
    targetLink: op.targetLink,
    targetId: op.targetId,
    status: op.status,
    user: 'spillway@emulated-project.iam.gserviceaccount.com',
    progress: op.status === 'DONE' ? 100 : 0,
    insertTime: new Date(op.insertTimeMs).toISOString(),
    startTime: new Date(op.insertTimeMs).toISOString(),
    ...(op.endTimeMs === undefined ? {} : { endTime: new Date(op.endTimeMs).toISOString() }),
    ...(op.error
      ? {
          error: { errors: op.error.errors },
          httpErrorStatusCode: op.error.httpStatus,
          httpErrorMessage: op.error.httpStatus >= 500 ? 'SERVICE UNAVAILABLE' : 'FORBIDDEN',
        }
      : {}),
    selfLink: `${zoneUrl}/operations/${op.name}`,
  };
}
