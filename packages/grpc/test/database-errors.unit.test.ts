import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '@bulkhead/logger';
import { grpcErrorFromDatabaseError, Status, unary, type grpc } from '../src/index.js';

/** What node-postgres raises: an Error with a SQLSTATE code and a severity. */
function pgError(
  code: string,
  message = 'duplicate key value violates unique constraint "x_pkey"',
) {
  return Object.assign(new Error(message), { code, severity: 'ERROR', constraint: 'x_pkey' });
}

describe('grpcErrorFromDatabaseError', () => {
  it('maps SQLSTATE class 22 to INVALID_ARGUMENT and class 23 to FAILED_PRECONDITION', () => {
    for (const code of ['22021', '22003', '22P02', '22001'])
      expect(grpcErrorFromDatabaseError(pgError(code))?.code, code).toBe(Status.INVALID_ARGUMENT);
    for (const code of ['23505', '23503', '23514', '23502'])
      expect(grpcErrorFromDatabaseError(pgError(code))?.code, code).toBe(
        Status.FAILED_PRECONDITION,
      );
  });

  it('names the SQLSTATE only, never the constraint or the message', () => {
    const error = grpcErrorFromDatabaseError(pgError('23505'));
    expect(error?.message).toContain('23505');
    expect(error?.message).not.toMatch(/x_pkey|duplicate/);
  });

  it('maps an unreachable database to UNAVAILABLE and a lost race to ABORTED', () => {
    for (const error of [
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is shutting down'),
      pgError('08006', 'connection failure'),
      pgError('53300', 'too many connections'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:15432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      expect(grpcErrorFromDatabaseError(error)?.code, error.message).toBe(Status.UNAVAILABLE);
    }
    for (const code of ['40001', '40P01', '55P03'])
      expect(grpcErrorFromDatabaseError(pgError(code))?.code, code).toBe(Status.ABORTED);
  });

  it('leaves every other error alone', () => {
    for (const error of [
      pgError('42P01'), // undefined table: a bug
      pgError('XX000'), // internal error
      Object.assign(new Error('x'), { code: '22021' }), // no severity: not from PostgreSQL
      new Error('plain'),
      undefined,
      null,
      '22021',
    ]) {
      expect(grpcErrorFromDatabaseError(error)).toBeUndefined();
    }
  });
});

describe('unary', () => {
  /** Runs a handler the way grpc-js would and returns what it answered. */
  function call(handler: grpc.handleUnaryCall<{ name: string }, never>, request: { name: string }) {
    return new Promise<Partial<grpc.ServiceError> | null>((resolve) => {
      const unaryCall = { request, getPath: () => '/test.v1.Test/Do' };
      handler(unaryCall as unknown as grpc.ServerUnaryCall<{ name: string }, never>, (error) =>
        resolve(error as Partial<grpc.ServiceError> | null),
      );
    });
  }
  const schema = z.object({ name: z.string() });

  it('answers a database error the request caused with its status, anything else INTERNAL', async () => {
    const failing = (error: unknown) =>
      unary(createLogger('grpc', 'silent'), schema, () => Promise.reject(error as Error));
    expect((await call(failing(pgError('22021')), { name: 'x' }))?.code).toBe(
      Status.INVALID_ARGUMENT,
    );
    expect((await call(failing(pgError('23505')), { name: 'x' }))?.code).toBe(
      Status.FAILED_PRECONDITION,
    );
    const internal = await call(failing(pgError('42P01', 'relation "t" does not exist')), {
      name: 'x',
    });
    expect(internal).toMatchObject({ code: Status.INTERNAL, details: 'internal error' });
  });
});
