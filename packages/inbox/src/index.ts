import {
  migrationsDir,
  withTransaction,
  type MigrationSet,
  type Pool,
  type PoolClient,
  type Queryable,
} from '@bulkhead/db';
import {
  PermanentMessageError,
  type BatchingMessageHandler,
  type IncomingMessage,
} from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';

/** The inbox table; apply with migrate() from @bulkhead/db next to the service's own sets. */
export const inboxMigrations: MigrationSet = {
  name: 'inbox',
  directory: migrationsDir(import.meta.url),
};

/**
 * Idempotent consumer: applies a message's effect at most once per consumer, however often
 * Kafka delivers it. In ONE transaction the message id is recorded and the effect runs (it
 * writes state and enqueues replies to the outbox with the given client), so either both are
 * committed or neither is.
 *
 * A concurrent duplicate blocks on the first one's uncommitted insert of the same key, then
 * sees the conflict once it commits (or proceeds if it rolled back).
 */
export async function consumeOnce(
  pool: Pool,
  consumer: string,
  message: IncomingMessage,
  effect: (tx: PoolClient) => Promise<void>,
): Promise<'processed' | 'duplicate'> {
  return withTransaction(pool, async (tx) => {
    const recorded = await tx.query(
      'INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [consumer, message.envelope.messageId],
    );
    // Already processed: nothing was written, so committing here equals rolling back.
    if (recorded.rowCount === 0) return 'duplicate';
    await effect(tx); // throws → the whole transaction, inbox row included, rolls back
    return 'processed';
  });
}

export interface InboxHandlerOptions<T, R = void> {
  pool: Pool;
  /** The inbox namespace: one per consuming service. */
  consumer: string;
  logger: Logger;
  /**
   * Decodes a message before any transaction. undefined: not a message for this consumer;
   * throws: malformed. Either way it can never be processed: the handler throws a
   * PermanentMessageError and the event bus dead-letters the message at once (instead of
   * retrying it forever, which would block its partition).
   */
  decode(message: IncomingMessage): T | undefined;
  /** The effect, in the inbox transaction: runs at most once per message id. */
  handle(tx: PoolClient, decoded: T, message: IncomingMessage): Promise<R>;
  /**
   * Called with what `handle` returned once its transaction committed (not for a duplicate, not
   * after a rollback): the place to count what the message did.
   */
  committed?(result: R, message: IncomingMessage): void;
  /**
   * Runs once per batch, in its transaction, before the first effect, with the messages not
   * processed before: e.g. takes every row lock the batch's effects will take, in one order, so
   * that two batches (of two partitions) never wait for each other in a cycle.
   */
  prepareBatch?(tx: PoolClient, messages: readonly IncomingMessage[]): Promise<void>;
}

/** Records the message ids not recorded before; returns those it recorded (one statement). */
async function recordNew(tx: PoolClient, consumer: string, ids: string[]): Promise<Set<string>> {
  const recorded = await tx.query<{ message_id: string }>(
    `INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::text[])
     ON CONFLICT DO NOTHING RETURNING message_id`,
    [consumer, ids],
  );
  return new Set(recorded.rows.map((row) => row.message_id));
}

/**
 * The one message handler of every consumer (the saga orchestrator and the participants alike):
 * decode, then consumeOnce. A message that cannot be decoded throws PermanentMessageError; a
 * failing effect propagates as it is, and the event bus classifies it (retry or dead-letter).
 *
 * It batches too (`batch`, which the event bus calls with runs of a partition's messages): ONE
 * transaction for the run — the ids recorded in one statement, duplicates (of earlier runs or
 * within this one) skipped, `prepareBatch`, then each new message's effect in order, the same
 * `handle` as one at a time — so a run costs one commit, not one per message. Any failure rolls
 * the whole run back; the bus then splits it to find the message at fault.
 */
export function inboxHandler<T, R = void>(
  options: InboxHandlerOptions<T, R>,
): BatchingMessageHandler {
  const { pool, consumer, logger } = options;
  const decodeOrThrow = (message: IncomingMessage): T => {
    const { envelope } = message;
    let decoded: T | undefined;
    try {
      decoded = options.decode(message);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PermanentMessageError(`malformed ${envelope.type}: ${reason}`, { cause: error });
    }
    if (decoded === undefined) {
      throw new PermanentMessageError(`unknown message type ${JSON.stringify(envelope.type)}`);
    }
    return decoded;
  };
  const skipped = ({ envelope }: IncomingMessage): 'duplicate' => {
    const { type, messageId, correlationId } = envelope;
    logger.info({ type, messageId, correlationId }, 'duplicate message skipped');
    return 'duplicate';
  };

  const one = async (message: IncomingMessage): Promise<void | 'duplicate'> => {
    const value = decodeOrThrow(message);
    let handled: { result: R } | undefined;
    const outcome = await consumeOnce(pool, consumer, message, async (tx) => {
      handled = { result: await options.handle(tx, value, message) };
    });
    if (outcome === 'duplicate') return skipped(message);
    if (handled) options.committed?.(handled.result, message);
  };

  const batch: BatchingMessageHandler['batch'] = async (messages, each) => {
    const decoded = messages.map(decodeOrThrow);
    const handled: Array<{ result: R; message: IncomingMessage }> = [];
    const outcomes = await withTransaction(pool, async (tx) => {
      const fresh = await recordNew(
        tx,
        consumer,
        messages.map((m) => m.envelope.messageId),
      );
      // The first delivery of an id in the run is the one recorded; any later one is a duplicate.
      const isNew = messages.map((m) => fresh.delete(m.envelope.messageId));
      await options.prepareBatch?.(
        tx,
        messages.filter((_, i) => isNew[i]),
      );
      const results: Array<void | 'duplicate'> = [];
      for (const [i, message] of messages.entries()) {
        if (!isNew[i]) {
          results.push('duplicate');
          continue;
        }
        const result = await each(message, () => options.handle(tx, decoded[i] as T, message));
        handled.push({ result, message });
        results.push(undefined);
      }
      return results;
    });
    for (const [i, message] of messages.entries()) {
      if (outcomes[i] === 'duplicate') skipped(message);
    }
    for (const { result, message } of handled) options.committed?.(result, message);
    return outcomes;
  };

  return Object.assign(one, { batch });
}

/**
 * Housekeeping: forgets message ids processed more than olderThanMs ago; returns how many.
 * Keep them longer than any redelivery can come (Kafka retention of the consumed topics).
 */
export async function purgeProcessed(db: Queryable, olderThanMs: number): Promise<number> {
  const result = await db.query(
    "DELETE FROM inbox WHERE processed_at < now() - $1 * interval '1 millisecond'",
    [olderThanMs],
  );
  return result.rowCount ?? 0;
}
