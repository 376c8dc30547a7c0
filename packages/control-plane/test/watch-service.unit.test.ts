import { describe, expect, it } from 'vitest';
import { requestProblems } from '@bulkhead/grpc';
import { parseSnapshotNotification } from '../src/registry.js';
import { snapshotFor, watchSnapshotRequestSchema } from '../src/watch-service.js';

const EPOCH = '0b6f3c1e-8f0a-4c55-9d7e-2a1b3c4d5e6f';

describe('snapshotFor', () => {
  const snapshot = {
    epoch: EPOCH,
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

describe('watchSnapshotRequestSchema', () => {
  const request = { knownEpoch: '', knownVersion: 0, services: [] };

  it.each([
    ['nothing known', request],
    ['an epoch and a version', { ...request, knownEpoch: EPOCH, knownVersion: 24 }],
    ['a version without an epoch (an agent from before epochs)', { ...request, knownVersion: 24 }],
  ])('accepts %s', (_case, valid) => {
    expect(requestProblems(watchSnapshotRequestSchema, valid)).toEqual([]);
  });

  it('names a malformed known_epoch and a negative known_version', () => {
    expect(
      requestProblems(watchSnapshotRequestSchema, {
        ...request,
        knownEpoch: 'epoch-1',
        knownVersion: -1,
      }),
    ).toEqual([expect.stringMatching(/^known_version: /), expect.stringMatching(/^known_epoch: /)]);
  });
});

describe('parseSnapshotNotification', () => {
  it('reads the epoch and version a change NOTIFYs', () => {
    expect(parseSnapshotNotification(`${EPOCH}:25`)).toEqual({ epoch: EPOCH, version: 25 });
  });

  it.each([['25'], [''], [undefined], [`${EPOCH}:`], ['x:25']])(
    'is undefined for %j (the feed then reloads)',
    (payload) => {
      expect(parseSnapshotNotification(payload)).toBeUndefined();
    },
  );
});
