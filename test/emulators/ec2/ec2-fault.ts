/** The HTTP status EC2 answers each error code with (client errors 4xx, server errors 5xx). */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  AuthFailure: 401,
  MissingAuthenticationToken: 401,
  UnauthorizedOperation: 403,
  RequestLimitExceeded: 503,
  InsufficientInstanceCapacity: 500,
  InternalError: 500,
  Unavailable: 503,
};

/** An EC2 error answer: the emulator throws it from an action and the server writes EC2's error document. */
export class Ec2Fault extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status ?? STATUS_BY_CODE[code] ?? 400;
  }
}
