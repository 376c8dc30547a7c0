import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bulkhead/config';
import { loadConfigAgentConfig, snapshotFromProto } from '../src/index.js';

describe('snapshotFromProto', () => {
  const proto = {
    epoch: '0b6f3c1e-8f0a-4c55-9d7e-2a1b3c4d5e6f',
    version: 7,
    publishedAt: new Date('2026-01-02T03:04:05.678Z'),
    cells: [{ id: 'cell-1', endpoints: { orders: 'o:1', inventory: 'i:1', payments: 'p:1' } }],
    tenants: [
      {
        id: 't1',
        name: 'acme',
        cellId: 'cell-1',
        apiKeySha256: 'a'.repeat(64),
        rateLimitPerSecond: 5,
      },
    ],
  };

  it('converts the Timestamp to an ISO string and keeps everything else', () => {
    expect(snapshotFromProto(proto)).toEqual({ ...proto, publishedAt: '2026-01-02T03:04:05.678Z' });
  });

  it('reads an empty epoch (a control plane from before epochs) as none', () => {
    const converted = snapshotFromProto({ ...proto, epoch: '' });
    expect(converted.epoch).toBeUndefined();
    expect(JSON.stringify(converted)).not.toContain('epoch');
  });

  it.each([
    ['no timestamp', { ...proto, publishedAt: undefined }],
    ['version 0', { ...proto, version: 0 }],
    ['an epoch that is not a UUID', { ...proto, epoch: 'epoch-7' }],
    [
      'a malformed key hash',
      { ...proto, tenants: [{ ...proto.tenants[0]!, apiKeySha256: 'nope' }] },
    ],
  ])('rejects a snapshot with %s', (_case, invalid) => {
    expect(() => snapshotFromProto(invalid)).toThrow();
  });
});

describe('loadConfigAgentConfig', () => {
  it('applies the defaults', () => {
    expect(loadConfigAgentConfig({ SNAPSHOT_PATH: '/var/run/bulkhead/routing.json' })).toEqual({
      controlPlaneAddress: '127.0.0.1:7081',
      snapshotPath: '/var/run/bulkhead/routing.json',
      snapshotServices: [],
      ops: { host: '127.0.0.1', port: 9085 },
      watchDeadlineMs: 300_000,
      watchOpenTimeoutMs: 5_000,
      logLevel: 'info',
    });
  });

  it('reads the services whose endpoints the host calls', () => {
    const config = loadConfigAgentConfig({
      SNAPSHOT_PATH: '/x',
      SNAPSHOT_SERVICES: 'orders, inventory',
    });
    expect(config.snapshotServices).toEqual(['orders', 'inventory']);
  });

  it('requires SNAPSHOT_PATH and a positive deadline', () => {
    expect(() => loadConfigAgentConfig({})).toThrow(/SNAPSHOT_PATH/);
    expect(() => loadConfigAgentConfig({ SNAPSHOT_PATH: '/x', WATCH_DEADLINE_MS: '0' })).toThrow(
      ConfigError,
    );
    expect(() =>
      loadConfigAgentConfig({ SNAPSHOT_PATH: '/x', CONTROL_PLANE_ADDRESS: 'no-port' }),
    ).toThrow(/CONTROL_PLANE_ADDRESS/);
  });
});
