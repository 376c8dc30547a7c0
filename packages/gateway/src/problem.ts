import { ERROR_REASONS } from '@bulkhead/contracts';
import { HttpProblem } from '@bulkhead/http';
import { GrpcError, Status } from '@bulkhead/grpc';

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
    // A service shedding load (or a message over the size limit) is not the tenant's rate limit:
    // 429 is only the gateway's own per-tenant limit, which comes with Retry-After.
    case Status.RESOURCE_EXHAUSTED:
    case Status.UNAVAILABLE:
      return new HttpProblem(503, 'the service is temporarily unavailable; retry later', {
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
  return error instanceof GrpcError ? problemFromGrpc(error) : undefined;
}
