import { HttpProblem, problemFromRequestError } from '@bulkhead/http';
import type { z } from 'zod';
import { GrpcError, Status } from '@bulkhead/grpc';
import type { FieldProblem } from './schemas.js';

/** Reasons the orders service attaches to idempotency conflicts (GrpcError.reason). */
export const IDEMPOTENCY_KEY_REUSED = 'idempotency_key_reused';
export const IDEMPOTENCY_KEY_IN_FLIGHT = 'idempotency_key_in_flight';

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
        error.reason === IDEMPOTENCY_KEY_IN_FLIGHT
          ? 'a request with this Idempotency-Key is still being processed; retry later'
          : error.message,
        options,
      );
    case Status.FAILED_PRECONDITION:
      return error.reason === IDEMPOTENCY_KEY_REUSED
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

/** Turns anything a handler threw into the problem to answer. */
export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof GrpcError) return problemFromGrpc(error);
  return problemFromRequestError(error) ?? new HttpProblem(500, 'internal error', { cause: error });
}

function jsonPointer(path: readonly PropertyKey[]): string {
  return path
    .map((part) => '/' + String(part).replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('');
}

/** One entry per invalid field; unknown fields are reported at their own pointer. */
export function fieldProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          pointer: jsonPointer([...issue.path, key]),
          detail: 'unknown field',
        }))
      : [{ pointer: jsonPointer(issue.path), detail: issue.message }],
  );
}
