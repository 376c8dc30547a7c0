import { STATUS_CODES, type ServerResponse } from 'node:http';

/** The media type of RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The body of an error response (RFC 9457), with this platform's extension members. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Machine-readable reason, e.g. idempotency_key_reused. */
  reason?: string;
  /** One entry per invalid field or parameter. */
  errors?: readonly object[];
}

export interface ProblemOptions {
  reason?: string;
  errors?: readonly object[];
  headers?: Record<string, string>;
  /** What caused it: logged by the server, never shown to the client. */
  cause?: unknown;
  /**
   * A refusal that is the system working as designed (load shed, circuit open, backpressure):
   * not logged per request, however many there are (the ops port counts them).
   */
  expected?: boolean;
}

/** An error answered as problem+json. `detail` is shown to the client: no internals in it. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  readonly reason: string | undefined;
  readonly errors: readonly object[] | undefined;
  readonly headers: Record<string, string>;
  readonly expected: boolean;

  constructor(
    readonly status: number,
    readonly detail: string,
    options: ProblemOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.reason = options.reason;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.expected = options.expected ?? false;
  }

  toJSON(): ProblemDocument {
    return {
      type: 'about:blank',
      title: STATUS_CODES[this.status] ?? 'Error',
      status: this.status,
      detail: this.detail,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** Writes the problem as the response (works for express responses too). */
export function sendProblem(res: ServerResponse, problem: HttpProblem): void {
  res.statusCode = problem.status;
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.end(JSON.stringify(problem));
}

/** The errors body-parser raises (http-errors): a status and whether its message may be shown. */
interface RequestError {
  status: number;
  expose: boolean;
  type?: string;
  message: string;
}

function isRequestError(error: unknown): error is RequestError {
  return (
    error instanceof Error &&
    typeof (error as Partial<RequestError>).status === 'number' &&
    typeof (error as Partial<RequestError>).expose === 'boolean'
  );
}

/**
 * The problem for an error raised while reading the request (malformed JSON, a body over the
 * limit, …), or undefined when the error is not the client's.
 */
export function problemFromRequestError(error: unknown): HttpProblem | undefined {
  // The router decodes path parameters with decodeURIComponent, which throws URIError (and the
  // router marks it 400 without exposing it) for %-sequences that are not valid UTF-8.
  if (error instanceof URIError) {
    return new HttpProblem(400, 'the path is not valid percent-encoded UTF-8');
  }
  if (!isRequestError(error) || !error.expose || error.status < 400 || error.status >= 500) {
    return undefined;
  }
  if (error.type === 'entity.parse.failed') {
    return new HttpProblem(400, 'the request body is not valid JSON');
  }
  if (error.type === 'entity.too.large')
    return new HttpProblem(413, 'the request body is too large');
  return new HttpProblem(error.status, error.message);
}
