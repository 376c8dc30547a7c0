import { CircuitOpenError } from '@bulkhead/call-policy';
import { ERROR_REASONS } from '@bulkhead/contracts';
import { HttpProblem } from '@bulkhead/http';
import { GrpcError, Status } from '@bulkhead/grpc';

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

/** Maps a gRPC status from a cell service to the HTTP answer. 5xx details stay generic. */
export function problemFromGrpc(error: GrpcError): HttpProblem {
  const options = { reason: error.reason, cause: error };
  switch (error.code) {
    case Status.INVALID_ARGUMENT:
      return new HttpProblem(400, error.message, options);
    case Status.NOT_FOUND:
      return new HttpProblem(404, error.message, options);
    case Status.ALREADY_EXISTS:
      return new HttpProblem(409, error.message, options);
    case Status.ABORTED:
      return new HttpProblem(
        409,
        error.reason === ERROR_REASONS.idempotencyKeyInFlight
          ? 'a request with this Idempotency-Key is still being processed; retry later'
          : error.message,
        options,
      );
    case Status.FAILED_PRECONDITION:
      return error.reason === ERROR_REASONS.idempotencyKeyReused
        ? new HttpProblem(
            422,
            'this Idempotency-Key was already used for a different request',
            options,
          )
        : new HttpProblem(409, error.message, options);
    // A service shedding load is not the tenant's rate limit: 429 is only the gateway's own
    // per-tenant limit. Both come with Retry-After.
    case Status.RESOURCE_EXHAUSTED:
      return error.reason === ERROR_REASONS.sagaBacklogFull
        ? serviceUnavailable(
            'the cell has as many orders in progress as it can finish in time; retry later',
            SHED_REASONS.sagaBacklogFull,
          )
        : serviceUnavailable(
            'the service is temporarily unavailable; retry later',
            SHED_REASONS.serviceUnavailable,
          );
    case Status.UNAVAILABLE:
      return new HttpProblem(503, 'the service is temporarily unavailable; retry later', {
        reason: SHED_REASONS.serviceUnavailable,
        headers: { 'Retry-After': '1' },
        cause: error,
      });
    case Status.DEADLINE_EXCEEDED:
      return new HttpProblem(504, 'the service did not answer in time', { cause: error });
    default:
      return new HttpProblem(500, 'internal error', { cause: error });
  }
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
