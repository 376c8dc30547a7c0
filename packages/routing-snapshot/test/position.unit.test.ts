import { describe, expect, it } from 'vitest';
import {
  compareSnapshots,
  routingSnapshotSchema,
  supersedes,
  type SnapshotPosition,
} from '../src/index.js';

const A = '0b6f3c1e-8f0a-4c55-9d7e-2a1b3c4d5e6f';
const B = '7d2e9a40-1c3b-4e8f-a6d5-9f8e7d6c5b4a';

describe('compareSnapshots', () => {
  it.each<[string, SnapshotPosition | undefined, SnapshotPosition, string]>([
    ['nothing held', undefined, { epoch: A, version: 1 }, 'first'],
    ['same epoch, higher version', { epoch: A, version: 24 }, { epoch: A, version: 25 }, 'newer'],
    ['same epoch, same version', { epoch: A, version: 24 }, { epoch: A, version: 24 }, 'stale'],
    ['same epoch, lower version', { epoch: A, version: 24 }, { epoch: A, version: 4 }, 'stale'],
    // The bug: a fresh control-plane database restarts its versions low.
    [
      'another epoch, lower version',
      { epoch: A, version: 24 },
      { epoch: B, version: 4 },
      'new-epoch',
    ],
    [
      'another epoch, same version',
      { epoch: A, version: 4 },
      { epoch: B, version: 4 },
      'new-epoch',
    ],
    [
      'another epoch, higher version',
      { epoch: A, version: 4 },
      { epoch: B, version: 9 },
      'new-epoch',
    ],
    // A file (or a watcher) from before epochs: its epoch is unknown.
    ['unknown epoch held, an epoch next', { version: 24 }, { epoch: A, version: 4 }, 'new-epoch'],
    ['an epoch held, unknown next', { epoch: A, version: 4 }, { version: 24 }, 'new-epoch'],
    ['both unknown, higher version', { version: 4 }, { version: 5 }, 'newer'],
    ['both unknown, lower version', { version: 5 }, { version: 4 }, 'stale'],
    ['empty epoch is unknown (proto)', { epoch: '', version: 5 }, { version: 5 }, 'stale'],
    [
      'empty epoch vs an epoch (proto)',
      { epoch: '', version: 50 },
      { epoch: A, version: 5 },
      'new-epoch',
    ],
  ])('%s', (_case, held, next, relation) => {
    expect(compareSnapshots(held, next)).toBe(relation);
    expect(supersedes(held, next)).toBe(relation !== 'stale');
  });
});

describe('routingSnapshotSchema', () => {
  const file = { version: 3, publishedAt: '2026-01-02T03:04:05.678Z', cells: [], tenants: [] };

  it('reads a file with an epoch', () => {
    expect(routingSnapshotSchema.parse({ ...file, epoch: A })).toEqual({ ...file, epoch: A });
  });

  it('reads a file without an epoch (written by an older agent) as epoch unknown', () => {
    const parsed = routingSnapshotSchema.parse(file);
    expect(parsed.epoch).toBeUndefined();
    expect(compareSnapshots(parsed, { epoch: A, version: 1 })).toBe('new-epoch');
  });

  it.each([
    ['not a UUID', 'epoch-1'],
    ['empty', ''],
    ['not a string', 42],
    ['null', null],
  ])('rejects an epoch that is %s', (_case, epoch) => {
    expect(routingSnapshotSchema.safeParse({ ...file, epoch }).success).toBe(false);
  });
});
