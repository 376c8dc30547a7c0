import { ERROR_REASONS } from '@bulkhead/contracts';
import { HttpProblem } from '@bulkhead/http';
import { GrpcError, Status, type grpc } from '@bulkhead/grpc';

/** Seconds a client should wait after a 503 the gateway answers for a cell. */
const RETRY_AFTER_SECONDS = '1';

const unavailable = (error: GrpcError): HttpProblem =>
  new HttpProblem(503, 'the service is temporarily unavailable; retry later', {
    headers: { 'Retry-After': RETRY_AFTER_SECONDS },
    cause: error,
  });

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
  // A service shedding load (or a message over the size limit) is not the tenant's rate limit:
  // 429 is only the gateway's own per-tenant limit. A call cancelled by the cell (it is shutting
  // down) succeeds when retried, on another instance.
  [Status.RESOURCE_EXHAUSTED]: unavailable,
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

/** Maps a gRPC status from a cell service to the HTTP answer. */
export function problemFromGrpc(error: GrpcError): HttpProblem {
  return (BY_STATUS[error.code] ?? internal)(error);
}

/** The gateway's own mapping, for the edge's problem handler: a cell's gRPC status. */
export function toProblem(error: unknown): HttpProblem | undefined {
  return error instanceof GrpcError ? problemFromGrpc(error) : undefined;
}
