import { describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { Lifecycle } from '../src/index.js';

const logger = createLogger('lifecycle-test', 'silent');

/** A lifecycle with resource "A" opened, and the list its closes are recorded in. */
async function withA(): Promise<{ lifecycle: Lifecycle; closed: string[] }> {
  const closed: string[] = [];
  const lifecycle = new Lifecycle(logger);
  await lifecycle.open(
    'a',
    () => 'A',
    (r) => void closed.push(r),
  );
  return { lifecycle, closed };
}

describe('Lifecycle', () => {
  it('closes what was opened, latest first, once', async () => {
    const closed: string[] = [];
    const lifecycle = new Lifecycle(logger);
    const a = await lifecycle.open(
      'a',
      async () => 'A',
      (r) => void closed.push(r),
    );
    await lifecycle.open(
      'b',
      () => 'B',
      async (r) => void closed.push(r),
    );
    lifecycle.defer('c', () => void closed.push('C'));
    expect(a).toBe('A');
    await Promise.all([lifecycle.close(), lifecycle.close()]);
    expect(closed).toEqual(['C', 'B', 'A']);
  });

  it('does not remember a resource whose open failed, and closes the ones before it', async () => {
    const { lifecycle, closed } = await withA();
    await expect(
      lifecycle.open(
        'b',
        () => Promise.reject(new Error('no database')),
        () => void closed.push('B'),
      ),
    ).rejects.toThrow('no database');
    await lifecycle.close();
    expect(closed).toEqual(['A']);
  });

  it('keeps closing after a close fails, and refuses to open while stopping', async () => {
    const { lifecycle, closed } = await withA();
    lifecycle.defer('b', () => {
      throw new Error('stuck');
    });
    await lifecycle.close();
    expect(closed).toEqual(['A']);
    await expect(
      lifecycle.open(
        'c',
        () => 'C',
        () => undefined,
      ),
    ).rejects.toThrow(/stopping/);
  });
});
