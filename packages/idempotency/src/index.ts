import { migrationsDir, type MigrationSet, type Queryable } from '@bulkhead/db';

/**
 * Idempotency keys (IETF httpapi "Idempotency-Key" draft): the key's record is written in the
 * SAME transaction as the effect it guards, so one key can never produce two effects — not under
 * concurrent retries, not after a crash between steps (the transaction either commits both or
 * neither).
 */
export const idempotencyMigrations: MigrationSet = {
  name: 'idempotency',
  directory: migrationsDir(import.meta.url),
};

/** Another request with the same key is still being processed (HTTP 409). */
export class IdempotencyKeyInFlightError extends Error {
  override readonly name = 'IdempotencyKeyInFlightError';
}

/** The key was first used with a different request (HTTP 422). */
export class IdempotencyKeyReusedError extends Error {
  override readonly name = 'IdempotencyKeyReusedError';
}

export interface IdempotencyRequest {
  /** Namespace of the key, e.g. the tenant id. */
  scope: string;
  key: string;
  /** Stable hash of the request body. */
  fingerprint: string;
  /** How long a key is remembered (default 24 h). */
  ttlMs?: number;
}

/**
 * Must be called inside a transaction (tx). Either replays the stored first response, or runs
 * `perform` (which writes its effect with the same tx) and stores its response with the key.
 *
 * Concurrency: a transaction-scoped advisory lock on (scope, key) is taken without waiting; if a
 * concurrent transaction holds it, the first request is still in flight → IdempotencyKeyInFlightError.
 */
export async function withIdempotencyKey<R>(
  tx: Queryable,
  request: IdempotencyRequest,
  perform: () => Promise<R>,
): Promise<{ response: R; replayed: boolean }> {
  const locked = await tx.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked',
    [`idempotency:${request.scope}:${request.key}`],
  );
  if (!locked.rows[0]?.locked) {
    throw new IdempotencyKeyInFlightError('a request with this idempotency key is in progress');
  }
  const existing = await tx.query<{ fingerprint: string; response: R }>(
    'SELECT fingerprint, response FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at > now()',
    [request.scope, request.key],
  );
  const found = existing.rows[0];
  if (found) {
    if (found.fingerprint !== request.fingerprint) {
      throw new IdempotencyKeyReusedError('this idempotency key was used with a different request');
    }
    return { response: found.response, replayed: true };
  }
  const response = await perform();
  await tx.query(
    `INSERT INTO idempotency_keys (scope, key, fingerprint, response, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response,
           created_at = now(), expires_at = EXCLUDED.expires_at`,
    [
      request.scope,
      request.key,
      request.fingerprint,
      JSON.stringify(response),
      request.ttlMs ?? 86_400_000,
    ],
  );
  return { response, replayed: false };
}

/** Deletes expired keys; returns how many. */
export async function purgeExpiredKeys(db: Queryable): Promise<number> {
  const result = await db.query('DELETE FROM idempotency_keys WHERE expires_at <= now()');
  return result.rowCount ?? 0;
}
