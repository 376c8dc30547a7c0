import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bulkhead/config';
import { DEFAULT_ADMIN_TOKEN, generateApiKey, loadControlPlaneConfig } from '../src/index.js';

const cell = (id: string) => ({
  id,
  endpoints: { orders: '127.0.0.1:7111', inventory: '127.0.0.1:7112', payments: '127.0.0.1:7113' },
});

const base = {
  BULKHEAD_PG_URL: 'postgres://postgres@127.0.0.1:15432/postgres',
  BULKHEAD_CELLS: JSON.stringify([cell('cell-1')]),
};

describe('loadControlPlaneConfig', () => {
  it('applies the defaults', () => {
    expect(loadControlPlaneConfig(base)).toEqual({
      http: { host: '127.0.0.1', port: 8081 },
      grpc: { host: '127.0.0.1', port: 7081 },
      ops: { host: '127.0.0.1', port: 9081 },
      adminToken: DEFAULT_ADMIN_TOKEN,
      pgUrl: base.BULKHEAD_PG_URL,
      database: 'bulkhead_control_plane',
      cells: [cell('cell-1')],
      defaultRateLimit: 0,
      logLevel: 'info',
    });
  });

  it.each([
    ['not JSON', '[{"id":'],
    ['not an array', JSON.stringify(cell('cell-1'))],
    ['empty', '[]'],
    ['a duplicate id', JSON.stringify([cell('cell-1'), cell('cell-1')])],
    ['an invalid id', JSON.stringify([cell('Cell_1')])],
    [
      'a missing address',
      JSON.stringify([{ id: 'cell-1', endpoints: { orders: 'a:1', inventory: 'b:2' } }]),
    ],
    [
      'an address without port',
      JSON.stringify([
        { id: 'cell-1', endpoints: { ...cell('cell-1').endpoints, orders: 'orders' } },
      ]),
    ],
    [
      'an endpoint of a service cells do not run',
      JSON.stringify([
        { id: 'cell-1', endpoints: { ...cell('cell-1').endpoints, shipping: '127.0.0.1:7114' } },
      ]),
    ],
    ['an unknown field', JSON.stringify([{ ...cell('cell-1'), region: 'eu' }])],
  ])('rejects BULKHEAD_CELLS that is %s', (_case, cells) => {
    expect(() => loadControlPlaneConfig({ ...base, BULKHEAD_CELLS: cells })).toThrow(
      /BULKHEAD_CELLS/,
    );
  });

  it('requires the PostgreSQL URL and the cells', () => {
    expect(() => loadControlPlaneConfig({})).toThrow(
      /BULKHEAD_PG_URL[\s\S]*BULKHEAD_CELLS|BULKHEAD_CELLS[\s\S]*BULKHEAD_PG_URL/,
    );
  });

  it('rejects a negative rate limit and a database name that is not an identifier', () => {
    expect(() =>
      loadControlPlaneConfig({ ...base, CONTROL_PLANE_DEFAULT_RATE_LIMIT: '-1' }),
    ).toThrow(ConfigError);
    expect(() => loadControlPlaneConfig({ ...base, CONTROL_PLANE_DATABASE: 'x; DROP' })).toThrow(
      /CONTROL_PLANE_DATABASE/,
    );
  });
});

describe('generateApiKey', () => {
  it('is bk_ + base64url of 32 random bytes', () => {
    const keys = new Set(Array.from({ length: 100 }, generateApiKey));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(key).toMatch(/^bk_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
    }
  });
});
