import { migrationsDir, type MigrationSet } from '@bulkhead/db';

export {
  createOutbox,
  OUTBOX_CHANNEL,
  type Outbox,
  type OutboxMessage,
  type TraceContextSource,
} from './enqueue.js';
export { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './relay.js';
export {
  outboxMetrics,
  outboxState,
  purgeSent,
  requeueParked,
  type OutboxState,
  type RequeueFilter,
} from './maintenance.js';

/** The outbox table; apply with migrate() from @bulkhead/db next to the service's own sets. */
export const outboxMigrations: MigrationSet = {
  name: 'outbox',
  directory: migrationsDir(import.meta.url),
};
