import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { routingSnapshotSchema, type RoutingSnapshot } from './snapshot.js';

/**
 * Writes the snapshot atomically: a temporary file in the same directory, fsync, rename, fsync
 * of the directory.
 * Readers see either the previous complete file or the new complete file, never a partial one.
 */
export async function writeSnapshotFile(path: string, snapshot: RoutingSnapshot): Promise<void> {
  const valid = routingSnapshotSchema.parse(snapshot);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(JSON.stringify(valid, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  // Make the rename itself durable: fsync the directory that holds the new entry.
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Reads and validates the snapshot file; undefined when it does not exist yet. */
export async function readSnapshotFile(path: string): Promise<RoutingSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return routingSnapshotSchema.parse(JSON.parse(text));
}
