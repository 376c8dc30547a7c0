import { databaseFailure } from '@bulkhead/db';
import { PermanentMessageError, type FailureKind } from '@bulkhead/event-bus';

/**
 * How a cell service's consumer treats a handler's failure (SubscribeOptions.classify):
 * - permanent — dead-lettered at once: a PermanentMessageError (undecodable, unknown type, a
 *   command contradicting the state), or a database data or constraint error (the message
 *   carries a value the schema refuses: every retry fails the same way);
 * - unavailable — retried until the database is back, never dead-lettered: it cannot be reached;
 * - transient — retried a bounded number of times: a deadlock, a timeout, anything else.
 */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof PermanentMessageError) return 'permanent';
  switch (databaseFailure(error)) {
    case 'data':
    case 'constraint':
      return 'permanent';
    case 'unavailable':
      return 'unavailable';
    default:
      return 'transient';
  }
}
