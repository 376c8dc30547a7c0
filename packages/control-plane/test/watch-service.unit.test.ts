import { describe, expect, it } from 'vitest';
import { snapshotFor } from '../src/watch-service.js';

describe('snapshotFor', () => {
  const snapshot = {
    version: 3,
    publishedAt: new Date('2026-01-02T03:04:05.678Z'),
    cells: [
      { id: 'cell-1', endpoints: { orders: 'o:1', inventory: 'i:1', payments: 'p:1' } },
      { id: 'cell-2', endpoints: { orders: 'o:2', inventory: 'i:2', payments: 'p:2' } },
    ],
    tenants: [
      { id: 't', name: 't', cellId: 'cell-1', apiKeySha256: 'a'.repeat(64), rateLimitPerSecond: 0 },
    ],
  };

  it('keeps only the endpoints of the services the watcher calls', () => {
    expect(snapshotFor(snapshot, ['orders', 'inventory'])).toEqual({
      ...snapshot,
      cells: [
        { id: 'cell-1', endpoints: { orders: 'o:1', inventory: 'i:1' } },
        { id: 'cell-2', endpoints: { orders: 'o:2', inventory: 'i:2' } },
      ],
    });
  });

  it('keeps every endpoint when the watcher names none', () => {
    expect(snapshotFor(snapshot, [])).toEqual(snapshot);
  });
});
