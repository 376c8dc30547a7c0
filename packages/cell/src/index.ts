import { deadLetterTopic, type TopicSpec } from '@bulkhead/event-bus';
import {
  cellServices,
  deployables,
  type CellService,
  type CellServiceTopic,
  type DeployableSpec,
} from '@bulkhead/manifest';

/**
 * A cell is a full copy of the cell services (orders, inventory, payments: the manifest's
 * entries of kind cell-service) with its own databases and topics. These functions are the
 * single place where cell-scoped names are made, all from the manifest.
 */

export { cellServices, type CellService };

export const CELL_ID_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

function assertCellId(cellId: string): void {
  if (!CELL_ID_PATTERN.test(cellId)) throw new Error(`invalid cell id: ${JSON.stringify(cellId)}`);
}

/** A topic of one cell, owned by one of its services: <cell>.<service>.<topic>. */
export function cellTopic<S extends CellService>(
  cellId: string,
  service: S,
  topic: CellServiceTopic<S>,
): string {
  assertCellId(cellId);
  return `${cellId}.${service}.${topic}`;
}

/** The topic a cell service consumes (its consumer group reads only this one). */
export function consumedTopic(cellId: string, service: CellService): string {
  const { consumes } = deployables[service] as DeployableSpec;
  if (!consumes) throw new Error(`${service} consumes no topic`);
  return cellTopic(cellId, service, consumes as CellServiceTopic<typeof service>);
}

export const CELL_TOPIC_PARTITIONS = 6;

/**
 * Retention of a cell's topics: 3 days. Consumers remember processed message ids (the inbox)
 * for longer than this, so any redelivery the broker can still make is recognised.
 */
export const CELL_TOPIC_RETENTION_MS = 3 * 24 * 3_600_000;

/** PostgreSQL database owned by one service of one cell, e.g. bulkhead_cell_1_orders. */
export function cellDatabaseName(cellId: string, service: CellService): string {
  assertCellId(cellId);
  return `bulkhead_${cellId.replaceAll('-', '_')}_${service}`;
}

/**
 * Retention of a dead-letter topic: 14 days. A dead letter waits for a person — to find the
 * cause, ship the fix and redrive it (`make redrive`) — not for a consumer, so it must outlive a
 * long weekend plus a release cycle; and it is small (one record per message given up on).
 * Redrive re-publishes to the consumed topic, whose 3-day retention then applies again.
 */
export const DEAD_LETTER_TOPIC_RETENTION_MS = 14 * 24 * 3_600_000;

/**
 * Every topic of one cell with its partition count, for explicit creation (auto-create is off):
 * the topics each cell service owns, and the dead-letter topic of each topic a cell service
 * consumes (`<topic>.dead-letters`, where its consumer parks what it gives up on).
 */
export function cellTopicSpecs(cellId: string): Required<TopicSpec>[] {
  const owned = cellServices.flatMap((service) =>
    ((deployables[service] as DeployableSpec).topics ?? []).map((topic) => ({
      name: cellTopic(cellId, service, topic as CellServiceTopic<typeof service>),
      partitions: CELL_TOPIC_PARTITIONS,
      retentionMs: CELL_TOPIC_RETENTION_MS,
    })),
  );
  const deadLetters = cellServices
    .filter((service) => (deployables[service] as DeployableSpec).consumes !== undefined)
    .map((service) => ({
      name: deadLetterTopic(consumedTopic(cellId, service)),
      partitions: CELL_TOPIC_PARTITIONS,
      retentionMs: DEAD_LETTER_TOPIC_RETENTION_MS,
    }));
  return [...owned, ...deadLetters];
}

/** Consumer group of one service in one cell, e.g. cell-1.inventory. */
export function cellConsumerGroup(cellId: string, service: CellService): string {
  assertCellId(cellId);
  return `${cellId}.${service}`;
}
