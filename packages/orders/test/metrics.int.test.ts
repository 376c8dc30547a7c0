/**
 * The metric catalog of a cell, scraped over HTTP from each service's ops port: the three
 * services of one cell in this process (real PostgreSQL, Kafka and gRPC), one order confirmed and
 * one compensated (payment declined), and every series the dashboards and alerts read checked
 * for its value — plus the cardinality guard: no label outside the catalog, no id as a value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellConsumerGroup, cellTopic } from '@bulkhead/cell';
import { inventoryV1, ordersV1 } from '@bulkhead/contracts';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import { inventory } from '@bulkhead/inventory';
import { CATALOG_LABELS, cardinalityProblems, sampleValue, type Sample } from '@bulkhead/metrics';
import { payments } from '@bulkhead/payments';
import { startCellService, testCellId, type CellServiceUnderTest } from '@bulkhead/saga-driver';
import { startOpsServer, type OpsServer } from '@bulkhead/service-runtime';
import { eventually, scrapeMetrics } from '@bulkhead/testkit';
import { orders } from '../src/index.js';

const cellId = testCellId();
const tenantId = 'tenant-metrics';
const services: Record<'orders' | 'inventory' | 'payments', CellServiceUnderTest> = {} as never;
const ops: Record<keyof typeof services, OpsServer> = {} as never;
let ordersClient: GrpcClient<typeof ordersV1.OrdersServiceService>;
let inventoryClient: GrpcClient<typeof inventoryV1.InventoryServiceService>;

const scrape = (service: keyof typeof services): Promise<Sample[]> =>
  scrapeMetrics(ops[service].port);

beforeAll(async () => {
  for (const [name, definition] of [
    ['orders', orders],
    ['inventory', inventory],
    ['payments', payments],
  ] as const) {
    services[name] = await startCellService(cellId, definition);
    const { app } = services[name];
    ops[name] = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      isReady: () => app.isReady(),
      ...(app.metrics ? { metrics: app.metrics } : {}),
    });
  }
  ordersClient = createGrpcClient(ordersV1.OrdersServiceService, services.orders.grpcAddress);
  inventoryClient = createGrpcClient(
    inventoryV1.InventoryServiceService,
    services.inventory.grpcAddress,
  );
}, 120_000);

afterAll(async () => {
  ordersClient?.close();
  inventoryClient?.close();
  for (const server of Object.values(ops)) await server.close();
  for (const service of Object.values(services).reverse()) await service.stop();
});

const placeOrder = async (paymentToken: string) => {
  const { order } = await ordersClient.createOrder({
    tenantId,
    customerId: 'c-1',
    items: [{ sku: 'M-1', quantity: 1, unitPriceCents: 0 }],
    paymentToken,
    idempotencyKey: '',
    requestFingerprint: '',
  });
  return order!.id;
};

const ended = (orderId: string, status: ordersV1.OrderStatus) =>
  eventually(
    async () =>
      (await ordersClient.getOrder({ tenantId, orderId })).order?.status === status
        ? true
        : undefined,
    { timeoutMs: 20_000 },
  );

describe('the metric catalog of a cell, scraped from the ops ports', () => {
  it('has every known series at 0 before the first order', async () => {
    const samples = await scrape('orders');
    const labels = { service: 'orders', cell: cellId, saga: 'order' };
    expect(sampleValue(samples, 'saga_started_total', labels)).toBe(0);
    for (const reason of ['out_of_stock', 'payment_declined', 'timeout', 'processing_failed']) {
      expect(
        sampleValue(samples, 'saga_ended_total', { ...labels, outcome: 'compensated', reason }),
        reason,
      ).toBe(0);
    }
    expect(sampleValue(samples, 'saga_step_timeouts_total', { step: 'reserveStock' })).toBe(0);
    expect(sampleValue(samples, 'saga_backlog_rejections_total')).toBe(0);
    expect(sampleValue(samples, 'outbox_publish_failures_total', { kind: 'rejected' })).toBe(0);
    const group = cellConsumerGroup(cellId, 'orders');
    for (const outcome of ['handled', 'duplicate', 'retried', 'dead_lettered']) {
      expect(sampleValue(samples, 'messages_consumed_total', { group, outcome }), outcome).toBe(0);
    }
    expect(sampleValue(samples, 'messages_dead_lettered_total', { group, kind: 'permanent' })).toBe(
      0,
    );
    expect(
      sampleValue(samples, 'grpc_server_shed_total', {
        grpc_service: 'bulkhead.orders.v1.OrdersService',
        grpc_method: 'CreateOrder',
      }),
    ).toBe(0);
  });

  it('counts a confirmed and a compensated saga, the relay, the consumers and the gRPC calls', async () => {
    await inventoryClient.upsertProduct({
      tenantId,
      sku: 'M-1',
      name: 'M',
      priceCents: 100,
      stock: 5,
    });
    const before = await scrape('orders');
    const confirmed = await placeOrder('tok_visa');
    const declined = await placeOrder('tok_decline');
    await ended(confirmed, ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED);
    await ended(declined, ordersV1.OrderStatus.ORDER_STATUS_REJECTED);

    const delta = (samples: Sample[], name: string, labels: Record<string, string>) =>
      (sampleValue(samples, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    // The declined saga ends once its compensation (release the stock) is acknowledged. A relay
    // counts a row once its transaction marked it sent, a consumer a message once its handler
    // returned: a moment after what they caused. So wait for the last of each to be counted:
    // to inventory reserve ×2, commit, release; the two orders' events; the 7 replies
    // (StockReserved ×2, PaymentAuthorized, StockCommitted, PaymentCaptured, PaymentDeclined,
    // StockReleased).
    const inventoryCommands = cellTopic(cellId, 'inventory', 'commands');
    const orderEvents = cellTopic(cellId, 'orders', 'events');
    const replies = cellTopic(cellId, 'orders', 'saga-replies');
    const group = cellConsumerGroup(cellId, 'orders');
    const samples = await eventually(async () => {
      const now = await scrape('orders');
      return sampleValue(now, 'saga_open', { saga: 'order' }) === 0 &&
        delta(now, 'outbox_published_total', { topic: inventoryCommands }) === 4 &&
        delta(now, 'outbox_published_total', { topic: orderEvents }) === 2 &&
        delta(now, 'messages_consumed_total', { group, topic: replies, outcome: 'handled' }) === 7
        ? now
        : undefined;
    });
    expect(delta(samples, 'saga_started_total', { saga: 'order' })).toBe(2);
    expect(
      delta(samples, 'saga_ended_total', { saga: 'order', outcome: 'completed', reason: 'none' }),
    ).toBe(1);
    expect(
      delta(samples, 'saga_ended_total', {
        saga: 'order',
        outcome: 'compensated',
        reason: 'payment_declined',
      }),
    ).toBe(1);
    expect(delta(samples, 'saga_duration_seconds_count', { outcome: 'completed' })).toBe(1);
    expect(delta(samples, 'saga_duration_seconds_count', { outcome: 'compensated' })).toBe(1);
    expect(
      sampleValue(samples, 'saga_duration_seconds_sum', { outcome: 'completed' }),
    ).toBeGreaterThan(0);
    expect(sampleValue(samples, 'saga_stuck', { saga: 'order' })).toBe(0);

    // orders' consumer timed every reply's handler.
    expect(delta(samples, 'message_handling_seconds_count', { group, topic: replies })).toBe(7);
    expect(sampleValue(samples, 'outbox_relay_round_duration_seconds_count')).toBeGreaterThan(0);
    // The gauges read at scrape time settle: nothing unsent, the group's lag 0 on every partition
    // once its offsets are committed (at least every second).
    const lagOf = (now: Sample[]) =>
      now.filter((s) => s.name === 'kafka_consumer_lag' && s.labels.group === group);
    const settled = await eventually(async () => {
      const now = await scrape('orders');
      return sampleValue(now, 'outbox_unsent_rows') === 0 &&
        lagOf(now).length === 6 &&
        lagOf(now).every((s) => s.value === 0)
        ? now
        : undefined;
    });
    expect(
      lagOf(settled)
        .map((s) => s.labels.partition)
        .sort(),
    ).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(lagOf(settled).every((s) => s.labels.topic === replies)).toBe(true);
    expect(sampleValue(settled, 'outbox_oldest_unsent_age_seconds')).toBe(0);
    expect(sampleValue(settled, 'outbox_parked_rows')).toBe(0);
    // RED of the gRPC server, canonical code names.
    const createOrder = {
      grpc_service: 'bulkhead.orders.v1.OrdersService',
      grpc_method: 'CreateOrder',
      grpc_code: 'OK',
    };
    expect(delta(samples, 'grpc_server_handling_seconds_count', createOrder)).toBe(2);
    expect(
      sampleValue(samples, 'grpc_server_handling_seconds_count', {
        grpc_method: 'GetOrder',
        grpc_code: 'OK',
      }),
    ).toBeGreaterThan(0);

    // The participants: each command handled once, the inventory's replies published.
    const inv = await eventually(async () => {
      const now = await scrape('inventory');
      return sampleValue(now, 'outbox_published_total', { topic: replies }) === 4 ? now : undefined;
    });
    expect(
      sampleValue(inv, 'messages_consumed_total', {
        service: 'inventory',
        cell: cellId,
        topic: inventoryCommands,
        outcome: 'handled',
      }),
    ).toBe(4);
    const pay = await scrape('payments');
    expect(
      sampleValue(pay, 'messages_consumed_total', {
        topic: cellTopic(cellId, 'payments', 'commands'),
        outcome: 'handled',
      }),
    ).toBe(3); // authorize ×2, capture
  });

  it('carries no label outside the catalog and no id as a label value, in any service', async () => {
    for (const service of ['orders', 'inventory', 'payments'] as const) {
      const samples = await scrape(service);
      expect(sampleValue(samples, 'nodejs_eventloop_lag_p99_seconds'), service).toBeDefined();
      expect(cardinalityProblems(samples, { allowedLabels: CATALOG_LABELS }), service).toEqual([]);
    }
  });
});
