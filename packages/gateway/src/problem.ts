import { CircuitOpenError } from '@bulkhead/call-policy';
import { ERROR_REASONS } from '@bulkhead/contracts';
import { HttpProblem } from '@bulkhead/http';
import { GrpcError, Status, type grpc } from '@bulkhead/grpc';

/** Reasons of the gateway's own 503s (problem `reason`). */
export const SHED_REASONS = {
  /** The cell's adaptive concurrency limit is reached (for this class of request). */
  cellAtCapacity: 'cell_at_capacity',
  /** The circuit breaker of the cell's service is open. */
  circuitOpen: 'circuit_open',
  /** The cell's saga backlog is full (orders refused for backpressure). */
  sagaBacklogFull: ERROR_REASONS.sagaBacklogFull,
  /** The cell's service refused the call (its own in-flight bound) or could not be reached. */
  serviceUnavailable: 'service_unavailable',
} as const;

/** 503 with Retry-After: an expected refusal, answered at once and not logged per request. */
export function serviceUnavailable(
  detail: string,
  reason: string,
  retryAfterSeconds = 1,
): HttpProblem {
  return new HttpProblem(503, detail, {
    reason,
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    expected: true,
  });
}

/** The cell could not be reached, or its call was cancelled: a retry may succeed elsewhere. */
const unavailable = (error: GrpcError): HttpProblem =>
  new HttpProblem(503, 'the service is temporarily unavailable; retry later', {
    reason: SHED_REASONS.serviceUnavailable,
    headers: { 'Retry-After': '1' },
    cause: error,
  });

/**
 * The cell refused the work to protect itself: its saga backlog is full (backpressure) or it
 * is at its in-flight bound. Expected under overload: answered at once, not logged each time.
 */
const refused = (error: GrpcError): HttpProblem =>
  error.reason === ERROR_REASONS.sagaBacklogFull
    ? sagaBacklogFull()
    : serviceUnavailable(
        'the service is temporarily unavailable; retry later',
        SHED_REASONS.serviceUnavailable,
      );

/** A fault of the platform, not of the request: 500 without the cell's details. */
const internal = (error: GrpcError): HttpProblem =>
  new HttpProblem(500, 'internal error', { cause: error });

/** The client's own mistake or conflict: the cell's message is meant for it. */
const shown =
  (status: number) =>
  (error: GrpcError): HttpProblem =>
    new HttpProblem(status, error.message, { reason: error.reason, cause: error });

/**
 * The HTTP answer for every gRPC status a cell service can return, each chosen on purpose (the
 * Record makes a new status a type error until it is mapped). 5xx details stay generic.
 */
const BY_STATUS: Record<grpc.status, (error: GrpcError) => HttpProblem> = {
  [Status.INVALID_ARGUMENT]: shown(400),
  [Status.OUT_OF_RANGE]: shown(400),
  [Status.NOT_FOUND]: shown(404),
  [Status.ALREADY_EXISTS]: shown(409),
  [Status.ABORTED]: (error) =>
    error.reason === ERROR_REASONS.idempotencyKeyInFlight
      ? new HttpProblem(
          409,
          'a request with this Idempotency-Key is still being processed; retry later',
          { reason: error.reason, cause: error },
        )
      : shown(409)(error),
  [Status.FAILED_PRECONDITION]: (error) =>
    error.reason === ERROR_REASONS.idempotencyKeyReused
      ? new HttpProblem(422, 'this Idempotency-Key was already used for a different request', {
          reason: error.reason,
          cause: error,
        })
      : shown(409)(error),
  // A service shedding load is not the tenant's rate limit: 429 is only the gateway's own
  // per-tenant limit. A call cancelled by the cell (it is shutting down) succeeds when retried,
  // on another instance.
  [Status.RESOURCE_EXHAUSTED]: refused,
  [Status.UNAVAILABLE]: unavailable,
  [Status.CANCELLED]: unavailable,
  [Status.DEADLINE_EXCEEDED]: (error) =>
    new HttpProblem(504, 'the service did not answer in time', { cause: error }),
  // The gateway authenticates and authorises the tenant itself: a cell refusing the gateway is
  // the platform's misconfiguration, not the client's credentials, so not 401/403.
  [Status.UNAUTHENTICATED]: internal,
  [Status.PERMISSION_DENIED]: internal,
  // The gateway calls only the methods of the contract: a cell without one is a deployment fault.
  [Status.UNIMPLEMENTED]: internal,
  [Status.INTERNAL]: internal,
  [Status.UNKNOWN]: internal,
  [Status.DATA_LOSS]: internal,
  // A failure that carries OK is a broken cell.
  [Status.OK]: internal,
};

/** The cell's saga backlog is full (backpressure): 503 at once. */
export const sagaBacklogFull = (): HttpProblem =>
  serviceUnavailable(
    'the cell has as many orders in progress as it can finish in time; retry later',
    SHED_REASONS.sagaBacklogFull,
  );

/** Maps a gRPC status from a cell service to the HTTP answer. */
export function problemFromGrpc(error: GrpcError): HttpProblem {
  return (BY_STATUS[error.code] ?? internal)(error);
}

/** The gateway's own mapping, for the edge's problem handler: a cell's gRPC status. */
export function toProblem(error: unknown): HttpProblem | undefined {
  if (error instanceof CircuitOpenError) {
    return serviceUnavailable(
      'the service is failing; calls are refused for a while; retry later',
      SHED_REASONS.circuitOpen,
      error.retryAfterMs / 1000,
    );
  }
  return error instanceof GrpcError ? problemFromGrpc(error) : undefined;
}
