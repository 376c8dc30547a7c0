import { performance } from 'node:perf_hooks';
import { controlPlaneV1 } from '@bulkhead/contracts';
import type { Queryable } from '@bulkhead/db';
import { createGrpcClient, type grpc } from '@bulkhead/grpc';
import { infra, TEST_CELLS } from '@bulkhead/testkit';
import { loadControlPlaneConfig, type CellConfig, type ControlPlaneConfig } from '../src/index.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export const TWO_CELLS: CellConfig[] = TEST_CELLS;

/** A control plane on random ports over the given database. */
export function testConfig(
  database: string,
  cells: CellConfig[] = TWO_CELLS,
  grpcPort = 0,
): ControlPlaneConfig {
  return loadControlPlaneConfig({
    BULKHEAD_PG_URL: infra.pgUrl,
    CONTROL_PLANE_DATABASE: database,
    CONTROL_PLANE_HTTP_PORT: '0',
    CONTROL_PLANE_GRPC_PORT: String(grpcPort),
    CONTROL_PLANE_ADMIN_TOKEN: ADMIN_TOKEN,
    BULKHEAD_CELLS: JSON.stringify(cells),
  });
}

/** An epoch as the control plane's database makes them (gen_random_uuid: a version 4 UUID). */
export const EPOCH_PATTERN =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The epoch and version stored in a control plane's database: what its snapshots carry. */
export async function storedPosition(db: Queryable): Promise<{ epoch: string; version: number }> {
  const { rows } = await db.query<{ epoch: string; version: number }>(
    'SELECT epoch, version FROM snapshot_version',
  );
  if (!rows[0]) throw new Error('snapshot_version row is missing');
  return rows[0];
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One admin API request; the admin token is sent unless `token` says otherwise (null: no header). */
export async function api(
  port: number,
  method: string,
  path: string,
  options: { json?: unknown; body?: string; contentType?: string; token?: string | null } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  if (options.contentType) headers['content-type'] = options.contentType;
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as unknown) : undefined,
  };
}

export interface CreatedTenant {
  id: string;
  name: string;
  cell: string;
  apiKey: string;
}

export async function createTenant(port: number, name: string): Promise<CreatedTenant> {
  const response = await api(port, 'POST', '/v1/tenants', { json: { name } });
  if (response.status !== 201)
    throw new Error(`create tenant: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as CreatedTenant;
}

export interface Received {
  snapshot: controlPlaneV1.RoutingSnapshot;
  /** performance.now() when it arrived. */
  at: number;
}

export interface Watch {
  readonly received: Received[];
  /** Resolves when the server has sent the response headers (the stream is open). */
  readonly opened: Promise<void>;
  /** Resolves with the final status of the call. */
  readonly ended: Promise<grpc.StatusObject>;
  /** The first snapshot received (already or later) that matches. */
  waitFor(
    predicate: (s: controlPlaneV1.RoutingSnapshot) => boolean,
    timeoutMs?: number,
  ): Promise<Received>;
  close(): void;
}

/** Opens WatchSnapshot against a control plane and records what arrives. */
export function openWatch(grpcPort: number, knownVersion: number, knownEpoch = ''): Watch {
  const client = createGrpcClient(
    controlPlaneV1.ControlPlaneServiceService,
    `127.0.0.1:${grpcPort}`,
    {
      deadlineMs: 60_000,
    },
  );
  const call = client.watchSnapshot({ knownEpoch, knownVersion, services: [] });
  const received: Received[] = [];
  const listeners = new Set<() => void>();
  call.on('data', (message: controlPlaneV1.WatchSnapshotResponse) => {
    if (message.snapshot) received.push({ snapshot: message.snapshot, at: performance.now() });
    for (const listener of listeners) listener();
  });
  call.on('error', () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const opened = new Promise<void>((resolve) => call.on('metadata', () => resolve()));
  return {
    received,
    opened,
    ended,
    waitFor: (predicate, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = received.find((r) => predicate(r.snapshot));
          if (!found) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no matching snapshot within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
