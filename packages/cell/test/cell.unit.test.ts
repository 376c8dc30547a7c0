import { describe, expect, it } from 'vitest';
import {
  CELL_TOPIC_RETENTION_MS,
  DEAD_LETTER_TOPIC_RETENTION_MS,
  cellTopicSpecs,
  consumedTopic,
} from '../src/index.js';

describe("a cell's topics", () => {
  it('are the owned topics and a dead-letter topic for each consumed one, same partitions, longer retention', () => {
    const specs = cellTopicSpecs('cell-1');
    expect(specs.map((s) => s.name)).toEqual([
      'cell-1.orders.saga-replies',
      'cell-1.orders.events',
      'cell-1.inventory.commands',
      'cell-1.payments.commands',
      'cell-1.orders.saga-replies.dead-letters',
      'cell-1.inventory.commands.dead-letters',
      'cell-1.payments.commands.dead-letters',
    ]);
    const byName = new Map(specs.map((s) => [s.name, s]));
    for (const service of ['orders', 'inventory', 'payments'] as const) {
      const consumed = byName.get(consumedTopic('cell-1', service));
      const deadLetters = byName.get(`${consumedTopic('cell-1', service)}.dead-letters`);
      expect(consumed?.retentionMs).toBe(CELL_TOPIC_RETENTION_MS);
      expect(deadLetters?.partitions).toBe(consumed?.partitions);
      expect(deadLetters?.retentionMs).toBe(DEAD_LETTER_TOPIC_RETENTION_MS);
    }
    expect(DEAD_LETTER_TOPIC_RETENTION_MS).toBeGreaterThan(CELL_TOPIC_RETENTION_MS);
  });

  it('refuses a cell id that would not make valid names', () => {
    expect(() => cellTopicSpecs('Cell 1')).toThrow('invalid cell id');
  });
});
