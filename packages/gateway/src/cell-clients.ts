import { breakerStateMetric, type CallPolicyState } from '@bulkhead/call-policy';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import { inventoryV1, ordersV1 } from '@bulkhead/contracts';
import type { Logger } from '@bulkhead/logger';
import type { Metrics } from '@bulkhead/metrics';
import type { RoutingTable } from '@bulkhead/routing-snapshot';

/** The cell services the gateway calls, with their gRPC service definitions. */
const SERVICES = {
  orders: ordersV1.OrdersServiceService,
  inventory: inventoryV1.InventoryServiceService,
} as const;

export type CalledService = keyof typeof SERVICES;
/** The services a cell must have endpoints for to serve the gateway. */
export const CALLED_SERVICES = Object.keys(SERVICES) as readonly CalledService[];
type ClientOf<S extends CalledService> = GrpcClient<(typeof SERVICES)[S]>;

/**
 * The methods safe to repeat (retried after UNAVAILABLE, within the retry budget). createOrder
 * is too when it carries an Idempotency-Key: the gateway marks those calls itself.
 */
const IDEMPOTENT: { [S in CalledService]: readonly (keyof (typeof SERVICES)[S])[] } = {
  orders: ['getOrder'],
  inventory: ['getProduct', 'upsertProduct'],
};

/**
 * One cache of gRPC clients, keyed by (cell, service): a channel multiplexes every call to that
 * service of that cell, under one call policy (a circuit breaker per (cell, service), retries of
 * idempotent calls within a budget). A snapshot that moves an endpoint gets a new client;
 * retain() closes the clients whose endpoint the snapshot no longer has.
 */
export class CellClients {
  private readonly clients = new Map<
    string,
    {
      cellId: string;
      service: CalledService;
      address: string;
      client: { close(): void; policyState(): CallPolicyState | undefined };
    }
  >();

  constructor(
    private readonly deadlineMs: number,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {
    // Each client's breaker, from the moment the client exists (circuit_breaker_state).
    if (metrics) breakerStateMetric(metrics, () => this.breakers());
  }

  private *breakers() {
    for (const { cellId, service, client } of this.clients.values()) {
      const state = client.policyState();
      if (state) yield { cell: cellId, target: service, state: state.breaker };
    }
  }

  /** The client of a cell's service at the address the snapshot gives for it. */
  client<S extends CalledService>(cellId: string, service: S, address: string): ClientOf<S> {
    const key = `${cellId}/${service}`;
    const cached = this.clients.get(key);
    if (cached?.address === address) return cached.client as ClientOf<S>;
    cached?.client.close();
    const client = createGrpcClient(SERVICES[service], address, {
      deadlineMs: this.deadlineMs,
      cell: cellId,
      ...(this.metrics ? { metrics: this.metrics } : {}),
      policy: {
        downstream: key,
        logger: this.logger,
        idempotent: IDEMPOTENT[service].map(String),
      },
    });
    this.clients.set(key, { cellId, service, address, client });
    return client as ClientOf<S>;
  }

  /** Closes the clients the routing table no longer routes to (started calls finish). */
  retain(table: RoutingTable): void {
    for (const [key, { cellId, service, address, client }] of this.clients) {
      if (table.cell(cellId)?.endpoints[service] === address) continue;
      client.close();
      this.clients.delete(key);
    }
  }

  /** The call policy of each (cell, service) client, by `cell/service` (shown on the ops port). */
  state(): Record<string, CallPolicyState | undefined> {
    return Object.fromEntries(
      [...this.clients].map(([key, { client }]) => [key, client.policyState()]),
    );
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
