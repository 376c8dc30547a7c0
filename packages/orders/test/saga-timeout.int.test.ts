/**
 * A participant that never answers: the three services of a cell in this process (real
 * PostgreSQL and Kafka), payments not started. The order times out (REJECTED `timeout`) with its
 * stock released; once payments comes back it carries out the late authorization and then the
 * void, and the saga ends with nothing held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, ordersV1 } from '@bulkhead/contracts';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import { inventory } from '@bulkhead/inventory';
import { payments } from '@bulkhead/payments';
import { startCellService, testCellId, type CellServiceUnderTest } from '@bulkhead/saga-driver';
import { parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually } from '@bulkhead/testkit';
import { orders } from '../src/index.js';

const cellId = testCellId();
const tenantId = 'tenant-t';
const started: CellServiceUnderTest[] = [];
let ordersService: CellServiceUnderTest;
let inventoryClient: GrpcClient<typeof inventoryV1.InventoryServiceService>;
let ordersClient: GrpcClient<typeof ordersV1.OrdersServiceService>;

beforeAll(async () => {
  ordersService = await startCellService(cellId, orders, {
    SAGA_STEP_TIMEOUT_MS: '500',
    SAGA_STEP_RESENDS: '2',
    SAGA_MAX_RESEND_DELAY_MS: '1000',
    SAGA_SWEEP_EVERY_MS: '100',
  });
  started.push(ordersService);
  const inventoryService = await startCellService(cellId, inventory);
  started.push(inventoryService);
  inventoryClient = createGrpcClient(
    inventoryV1.InventoryServiceService,
    inventoryService.grpcAddress,
  );
  ordersClient = createGrpcClient(ordersV1.OrdersServiceService, ordersService.grpcAddress);
  await inventoryClient.upsertProduct({
    tenantId,
    sku: 'T-1',
    name: 'T',
    priceCents: 250,
    stock: 10,
  });
}, 120_000);

afterAll(async () => {
  inventoryClient?.close();
  ordersClient?.close();
  for (const service of started.reverse()) await service.stop();
});

describe('a participant that never answers', () => {
  it('ends its orders REJECTED timeout with the stock released; the late work is voided', async () => {
    const { order } = await ordersClient.createOrder({
      tenantId,
      customerId: 'c-1',
      items: [{ sku: 'T-1', quantity: 4, unitPriceCents: 0 }],
      paymentToken: 'tok_visa',
      idempotencyKey: '',
      requestFingerprint: '',
    });
    const orderId = order!.id;
    const rejected = await eventually(
      async () => {
        const o = (await ordersClient.getOrder({ tenantId, orderId })).order!;
        return o.status === ordersV1.OrderStatus.ORDER_STATUS_REJECTED ? o : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(rejected.reason).toBe('timeout');
    const product = async () =>
      (await inventoryClient.getProduct({ tenantId, sku: 'T-1' })).product!;
    await eventually(async () => ((await product()).reserved === 0 ? true : undefined));
    expect(await product()).toMatchObject({ available: 10, reserved: 0 });

    // Payments comes back: the authorization (sent before the void) is carried out, then voided.
    const paymentsService = await startCellService(cellId, payments);
    started.push(paymentsService);
    const pool = paymentsService.app.context.pool;
    const payment = await eventually(
      async () => {
        const { rows } = await pool.query<{ status: string; amount_cents: number }>(
          'SELECT status, amount_cents FROM payments WHERE tenant_id = $1 AND order_id = $2',
          [tenantId, orderId],
        );
        return rows[0]?.status === 'VOIDED' ? rows[0] : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(payment).toEqual({ status: 'VOIDED', amount_cents: 1000 });
    const saga = await eventually(async () => {
      const { rows } = await ordersService.app.context.pool.query<{ status: string }>(
        'SELECT status FROM order_sagas WHERE order_id = $1',
        [orderId],
      );
      return rows[0]?.status === 'FAILED' ? rows[0] : undefined;
    });
    expect(saga.status).toBe('FAILED');
    expect((await ordersClient.getOrder({ tenantId, orderId })).order).toMatchObject({
      status: ordersV1.OrderStatus.ORDER_STATUS_REJECTED,
      reason: 'timeout',
    });
    expect(await product()).toMatchObject({ available: 10, reserved: 0 });
    // The step's deadline passed at least once per re-send and once more when it timed out.
    const samples = parseExposition(await ordersService.app.metrics!.scrape());
    expect(
      sampleValue(samples, 'saga_step_timeouts_total', { step: 'authorizePayment' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sampleValue(samples, 'saga_ended_total', { outcome: 'compensated', reason: 'timeout' }),
    ).toBe(1);
  }, 90_000);
});
