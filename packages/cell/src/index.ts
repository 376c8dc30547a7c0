/**
 * A cell is a full copy of orders, inventory and payments with its own databases and topics.
 * These functions are the single place where cell-scoped names are made.
 */

export const CELL_ID_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

export type CellService = 'orders' | 'inventory' | 'payments';

function assertCellId(cellId: string): void {
  if (!CELL_ID_PATTERN.test(cellId)) throw new Error(`invalid cell id: ${JSON.stringify(cellId)}`);
}

/** Kafka topics of one cell, with their partition counts. */
export function cellTopics(cellId: string) {
  assertCellId(cellId);
  return {
    inventoryCommands: `${cellId}.inventory.commands`,
    paymentsCommands: `${cellId}.payments.commands`,
    sagaReplies: `${cellId}.orders.saga-replies`,
    orderEvents: `${cellId}.orders.events`,
  } as const;
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

/** Every topic of one cell with its partition count, for explicit creation (auto-create is off). */
export function cellTopicSpecs(
  cellId: string,
): { name: string; partitions: number; retentionMs: number }[] {
  return Object.values(cellTopics(cellId)).map((name) => ({
    name,
    partitions: CELL_TOPIC_PARTITIONS,
    retentionMs: CELL_TOPIC_RETENTION_MS,
  }));
}

/** Consumer group of one service in one cell, e.g. cell-1.inventory. */
export function cellConsumerGroup(cellId: string, service: CellService): string {
  assertCellId(cellId);
  return `${cellId}.${service}`;
}
