import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@bulkhead/backoff';
import type { HistoryEvent, OrderStatus } from '@bulkhead/consistency-checker';

/**
 * The load client: tenants and products first, then orders with bounded concurrency. Each order
 * is one logical operation with its own Idempotency-Key and customerId (so the checker can trace
 * every order to the operation that made it); a POST is retried with the same key on timeouts,
 * connection errors, 409 (the first attempt still in flight), 429 and 5xx, a bounded number of
 * times. Accepted orders are polled until terminal, then read once more a little later. Every
 * attempt goes to the history (history.jsonl), Jepsen style.
 */

export class History {
  private readonly out: WriteStream;
  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'w' });
  }
  /** Appends one event (the write stream keeps the order of calls). */
  record(event: HistoryEvent): void {
    this.out.write(JSON.stringify(event) + '\n');
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.out.end((e?: Error | null) => (e ? reject(e) : resolve())),
    );
  }
}

export interface Tenant {
  id: string;
  cell: string;
  apiKey: string;
}

export interface LoadOptions {
  gatewayUrl: string;
  controlPlaneUrl: string;
  adminToken: string;
  history: History;
  /** Distinguishes this run's keys and customers from any other. */
  runId: string;
  /** Orders placed at once (each a process of the history). */
  concurrency: number;
  /** Pause between one worker's orders. */
  thinkMs: number;
  /** Tries per POST, the first included. */
  maxAttempts: number;
  /** Client timeout of one request. */
  requestTimeoutMs: number;
}

const SKUS = [
  // Scarce on purpose: some orders end REJECTED out_of_stock while others confirm.
  { sku: 'CHAOS-SCARCE', stock: 400, priceCents: 1_250 },
  { sku: 'CHAOS-A', stock: 100_000, priceCents: 499 },
  { sku: 'CHAOS-B', stock: 100_000, priceCents: 2_000 },
  { sku: 'CHAOS-C', stock: 100_000, priceCents: 75 },
] as const;

/** Reasons the gateway gives for refusing a request before any work: certainly not done. */
const REFUSED_503 = new Set(['cell_at_capacity', 'saga_backlog_full', 'circuit_open']);

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfterMs: number | undefined;
}

async function request(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: unknown },
  timeoutMs: number,
): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method,
    headers: {
      ...init.headers,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text: text.slice(0, 200) };
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    status: response.status,
    body,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1_000 : undefined,
  };
}

const errorText = (error: unknown) =>
  error instanceof Error
    ? `${error.name}: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
    : String(error);

/** Retries a set-up call (tenants, products) until it answers 2xx, within a deadline. */
async function setupCall(
  what: string,
  call: () => Promise<Answer>,
  deadlineMs = 120_000,
): Promise<Answer> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    let last: string;
    try {
      const answer = await call();
      if (answer.status >= 200 && answer.status < 300) return answer;
      last = `${answer.status} ${JSON.stringify(answer.body)}`;
    } catch (error) {
      last = errorText(error);
    }
    if (Date.now() > until) throw new Error(`${what}: gave up after ${attempt} tries (${last})`);
    await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 2_000 }));
  }
}

/** Creates tenants until each of `cells` has one, waits for their keys, then their products. */
export async function setUp(options: LoadOptions, cells: readonly string[]): Promise<Tenant[]> {
  const tenants = new Map<string, Tenant>();
  for (let i = 0; tenants.size < cells.length; i++) {
    if (i >= cells.length * 4) throw new Error('could not place a tenant in every cell');
    const answer = await setupCall('create tenant', () =>
      request(
        `${options.controlPlaneUrl}/v1/tenants`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${options.adminToken}` },
          body: { name: `chaos ${options.runId}` },
        },
        options.requestTimeoutMs,
      ),
    );
    const { id, cell, apiKey } = answer.body as { id: string; cell: string; apiKey: string };
    if (!tenants.has(cell)) tenants.set(cell, { id, cell, apiKey });
  }
  for (const tenant of tenants.values()) {
    // The key reaches the gateway through the control plane's push: until then, 401.
    await setupCall(`tenant ${tenant.id}: key known at the gateway`, async () => {
      const answer = await request(
        `${options.gatewayUrl}/v1/products/none`,
        { method: 'GET', headers: { authorization: `Bearer ${tenant.apiKey}` } },
        options.requestTimeoutMs,
      );
      return { ...answer, status: answer.status === 404 ? 200 : answer.status };
    });
    for (const product of SKUS) {
      const answer = await setupCall(`tenant ${tenant.id}: product ${product.sku}`, () =>
        request(
          `${options.gatewayUrl}/v1/products/${product.sku}`,
          {
            method: 'PUT',
            headers: { authorization: `Bearer ${tenant.apiKey}` },
            body: { name: product.sku, priceCents: product.priceCents, stock: product.stock },
          },
          options.requestTimeoutMs,
        ),
      );
      const stored = answer.body as { available?: number; stock?: number };
      options.history.record({
        type: 'ok',
        f: 'product',
        process: 0,
        at: Date.now(),
        tenant: tenant.id,
        cell: tenant.cell,
        sku: product.sku,
        stock: stored.available ?? stored.stock ?? product.stock,
        priceCents: product.priceCents,
      });
    }
  }
  return [...tenants.values()];
}

interface Pending {
  tenant: Tenant;
  op: number;
  orderId: string;
  nextReadAt: number;
  /** Terminal already: this is the one re-read that checks it stays so. */
  settled?: OrderStatus;
}

export interface LoadStats {
  operations: number;
  accepted: number;
  gaveUp: number;
  pending: number;
}

/** Places orders until stop(), polls them until terminal (or until the poller is stopped). */
export class OrderLoad {
  private nextOp = 1;
  private placing = true;
  private polling = true;
  private readonly pending = new Map<string, Pending>();
  private readonly workers: Promise<void>[] = [];
  private readonly pollers: Promise<void>[] = [];
  readonly stats: LoadStats = { operations: 0, accepted: 0, gaveUp: 0, pending: 0 };

  constructor(
    private readonly options: LoadOptions,
    private readonly tenants: readonly Tenant[],
    private readonly random: () => number,
  ) {}

  start(): void {
    for (let p = 1; p <= this.options.concurrency; p++) this.workers.push(this.placeLoop(p));
    for (let p = 1; p <= 3; p++) this.pollers.push(this.pollLoop(1_000 + p));
  }

  /** Orders still awaited (accepted, not yet read terminal). */
  get awaited(): number {
    return [...this.pending.values()].filter((p) => p.settled === undefined).length;
  }

  /** Stops placing; resolves once every operation in hand has ended (answered or given up). */
  async stopPlacing(): Promise<void> {
    this.placing = false;
    await Promise.all(this.workers);
  }

  async stopPolling(): Promise<void> {
    this.polling = false;
    await Promise.all(this.pollers);
  }

  private async placeLoop(process: number): Promise<void> {
    while (this.placing) {
      await this.placeOne(process);
      await sleep(this.options.thinkMs);
    }
  }

  private async placeOne(process: number): Promise<void> {
    const { options } = this;
    const op = this.nextOp++;
    this.stats.operations += 1;
    const tenant = this.tenants[op % this.tenants.length]!;
    const key = `chaos-${options.runId}-${op}`;
    const customerId = `chaos-${options.runId}-op-${op}`;
    const lines = 1 + Math.floor(this.random() * 2);
    const skus = [...SKUS].sort(() => this.random() - 0.5).slice(0, lines);
    const items = skus.map((s) => ({ sku: s.sku, quantity: 1 + Math.floor(this.random() * 3) }));
    const paymentToken = this.random() < 0.1 ? 'tok_decline' : 'tok_visa';
    const scope = {
      f: 'place' as const,
      process,
      tenant: tenant.id,
      cell: tenant.cell,
      op,
      key,
      customerId,
    };
    for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
      options.history.record({
        ...scope,
        type: 'invoke',
        at: Date.now(),
        attempt,
        items,
        paymentToken,
      });
      let retryAfterMs: number | undefined;
      try {
        const answer = await request(
          `${options.gatewayUrl}/v1/orders`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.apiKey}`, 'idempotency-key': key },
            body: { customerId, items, paymentToken },
          },
          options.requestTimeoutMs,
        );
        const done = { ...scope, at: Date.now(), attempt, http: answer.status };
        if (answer.status === 202) {
          const orderId = String(answer.body.id);
          const status = answer.body.status as OrderStatus;
          options.history.record({ ...done, type: 'ok', orderId, status });
          this.stats.accepted += 1;
          this.pending.set(orderId, { tenant, op, orderId, nextReadAt: Date.now() + 500 });
          return;
        }
        const reason = typeof answer.body.reason === 'string' ? answer.body.reason : '';
        const error = `${answer.status}${reason ? ` ${reason}` : ''}: ${String(answer.body.title ?? answer.body.detail ?? '')}`;
        // Refused before any work (definitely not done) or unknown (the cell may have done it).
        const refused =
          answer.status === 409 ||
          answer.status === 429 ||
          (answer.status === 503 && REFUSED_503.has(reason)) ||
          (answer.status >= 400 && answer.status < 500);
        options.history.record({ ...done, type: refused ? 'fail' : 'info', error });
        const retryable =
          answer.status === 409 ||
          answer.status === 429 ||
          answer.status === 401 ||
          answer.status >= 500;
        if (!retryable) return;
        retryAfterMs = answer.retryAfterMs;
      } catch (error) {
        options.history.record({
          ...scope,
          type: 'info',
          at: Date.now(),
          attempt,
          error: errorText(error),
        });
      }
      const delay = Math.min(
        5_000,
        Math.max(
          retryAfterMs ?? 0,
          backoffDelay(attempt, { initialMs: 250, maxMs: 4_000, jitter: true }, this.random),
        ),
      );
      await sleep(delay);
    }
    this.stats.gaveUp += 1;
  }

  private async pollLoop(process: number): Promise<void> {
    const { options } = this;
    while (this.polling) {
      const now = Date.now();
      let due: Pending | undefined;
      for (const p of this.pending.values()) {
        if (p.nextReadAt <= now && (!due || p.nextReadAt < due.nextReadAt)) due = p;
      }
      if (!due) {
        await sleep(100);
        continue;
      }
      // Claimed by this poller until its read ends.
      due.nextReadAt = Number.POSITIVE_INFINITY;
      const scope = {
        f: 'read' as const,
        process,
        tenant: due.tenant.id,
        cell: due.tenant.cell,
        op: due.op,
        orderId: due.orderId,
      };
      options.history.record({ ...scope, type: 'invoke', at: Date.now() });
      let status: OrderStatus | undefined;
      try {
        const answer = await request(
          `${options.gatewayUrl}/v1/orders/${due.orderId}`,
          { method: 'GET', headers: { authorization: `Bearer ${due.tenant.apiKey}` } },
          options.requestTimeoutMs,
        );
        if (answer.status === 200) {
          status = answer.body.status as OrderStatus;
          const reason = typeof answer.body.reason === 'string' ? answer.body.reason : undefined;
          options.history.record({
            ...scope,
            type: 'ok',
            at: Date.now(),
            status,
            ...(reason ? { reason } : {}),
          });
        } else {
          options.history.record({
            ...scope,
            type: answer.status >= 500 ? 'info' : 'fail',
            at: Date.now(),
            http: answer.status,
            error: `${answer.status} ${String(answer.body.reason ?? answer.body.title ?? '')}`,
          });
        }
      } catch (error) {
        options.history.record({ ...scope, type: 'info', at: Date.now(), error: errorText(error) });
      }
      if (due.settled !== undefined) {
        this.pending.delete(due.orderId);
      } else if (status !== undefined && status !== 'PENDING') {
        // Terminal: read once more a little later (a terminal state must stay).
        due.settled = status;
        due.nextReadAt = Date.now() + 3_000;
      } else {
        due.nextReadAt = Date.now() + 1_000;
      }
      this.stats.pending = this.awaited;
    }
  }
}
