import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { openSnapshotStore, type SnapshotStore } from '../src/index.js';

const logger = createLogger('store-test', 'silent');
let dir: string | undefined;
let store: SnapshotStore | undefined;

afterEach(async () => {
  store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const snapshot = (version: number) =>
  JSON.stringify({ version, publishedAt: '2026-12-01T00:00:00.000Z', cells: [], tenants: [] });

describe('openSnapshotStore', () => {
  it('reads a file again that failed to parse, even when its identity did not change', async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapshot-store-'));
    const path = join(dir, 'routing-snapshot.json');
    const good = snapshot(7);
    // Caught half-written: the same length as the complete file, so once it is complete (and
    // its mtime is the same) inode, size and mtime all say "nothing changed".
    const mtime = 1_764_547_200; // whole seconds: set exactly, both times
    await writeFile(path, good.slice(0, 20).padEnd(good.length, ' '));
    await utimes(path, mtime, mtime);
    const before = await stat(path);
    store = await openSnapshotStore(path, logger, { pollIntervalMs: 20 });
    expect(store.current()).toBeUndefined();

    // Completed in place, synchronously: no file event or poll can run in between and see the
    // intermediate state, so the identity the store sees next is exactly the one it saw before.
    writeFileSync(path, good);
    utimesSync(path, mtime, mtime);
    const after = statSync(path);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([
      before.ino,
      before.size,
      before.mtimeMs,
    ]);
    await expect.poll(() => store?.current()?.version, { timeout: 2_000, interval: 20 }).toBe(7);
  });
});
