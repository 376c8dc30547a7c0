/**
 * What a failed database call means, from its SQLSTATE (or the driver's connection error), so
 * that callers treat a class of failure one way: a gRPC method answers a status for it
 * (@bulkhead/grpc), a consumer retries or dead-letters the message (@bulkhead/cell-service).
 *
 * - `data`: a value is invalid (class 22: out of range, bad text representation, …);
 * - `constraint`: the change conflicts with the stored data (class 23: check, unique, foreign key);
 * - `timeout`: a statement was cancelled (57014: statement_timeout, e.g. a deadline passed);
 * - `conflict`: the transaction lost a race and may simply be run again (40001 serialization
 *   failure, 40P01 deadlock, 55P03 lock not available);
 * - `unavailable`: the database cannot be reached or is going away (class 08 connection
 *   exceptions, 57P01–57P03 shutdown / cannot connect now, 53300 too many connections, and the
 *   driver's own errors: refused, reset, terminated, connection timeout).
 * undefined: not a database failure we know (a bug, or the caller's own error).
 */
export type DatabaseFailure = 'data' | 'constraint' | 'timeout' | 'conflict' | 'unavailable';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** The driver's messages for a connection that ended or never came up (pg and pg-pool). */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

export function databaseFailure(error: unknown): DatabaseFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  if (typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith('22')) return 'data';
    if (code.startsWith('23')) return 'constraint';
    if (code === '57014') return 'timeout';
    if (code === '40001' || code === '40P01' || code === '55P03') return 'conflict';
    if (code.startsWith('08') || code === '53300' || /^57P0[123]$/.test(code)) return 'unavailable';
    return undefined;
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return 'unavailable';
  if (CONNECTION_MESSAGES.some((text) => error.message.startsWith(text))) return 'unavailable';
  // AggregateError (e.g. both ::1 and 127.0.0.1 refused) carries the real causes.
  if (error instanceof AggregateError) {
    const kinds = error.errors.map(databaseFailure);
    if (kinds.length > 0 && kinds.every((kind) => kind === 'unavailable')) return 'unavailable';
  }
  return undefined;
}
