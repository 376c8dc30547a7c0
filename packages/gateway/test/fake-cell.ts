import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ERROR_REASONS, inventoryV1, ordersV1 } from '@bulkhead/contracts';
import { createGrpcServer, deadlineOf, GrpcError, Status, unary } from '@bulkhead/grpc';
import type { CellEndpoints } from '@bulkhead/routing-snapshot';
import { testLogger } from '@bulkhead/testkit';

/**
 * A real gRPC server with small in-memory orders and inventory services that follow the
 * contract (requests are taken as they come: the fake checks nothing the gateway must): tenant-scoped NOT_FOUND, idempotency decisions with reasons. Records every call.
 *
 * Test hooks: sku "boom" fails with a non-GrpcError (INTERNAL), sku "slow" answers after
 * slowMs, customerId "sleep-<ms>" makes CreateOrder take that long, customerId "backlog-full"
 * makes it answer RESOURCE_EXHAUSTED saga_backlog_full. Each call records the deadline it got.
 */
export interface FakeCell {
  readonly id: string;
  readonly address: string;
  readonly endpoints: CellEndpoints;
  readonly calls: { method: string; tenantId: string; deadline: number | undefined }[];
  readonly orderCount: () => number;
  setOrderStatus(orderId: string, status: ordersV1.OrderStatus, reason?: string): void;
  stop(): Promise<void>;
}

export async function startFakeCell(id: string, { slowMs = 1_500 } = {}): Promise<FakeCell> {
  const logger = testLogger(`fake-${id}`);
  const calls: FakeCell['calls'] = [];
  const products = new Map<string, inventoryV1.Product>();
  const orders = new Map<string, ordersV1.Order>();
  const idempotency = new Map<
    string,
    { fingerprint: string; response?: ordersV1.CreateOrderResponse }
  >();

  const grpcServer = createGrpcServer();
  grpcServer.addService(inventoryV1.InventoryServiceService, {
    upsertProduct: unary(
      logger,
      z.custom<inventoryV1.UpsertProductRequest>(),
      async (req, call) => {
        calls.push({ method: 'UpsertProduct', tenantId: req.tenantId, deadline: deadlineOf(call) });
        if (req.sku === 'boom') throw new Error('secret database detail');
        const key = `${req.tenantId}/${req.sku}`;
        const reserved = products.get(key)?.reserved ?? 0;
        if (req.stock < reserved)
          throw new GrpcError(Status.FAILED_PRECONDITION, 'stock below reserved units');
        const product: inventoryV1.Product = {
          tenantId: req.tenantId,
          sku: req.sku,
          name: req.name,
          priceCents: req.priceCents,
          available: req.stock - reserved,
          reserved,
        };
        products.set(key, product);
        return { product };
      },
    ),
    getProduct: unary(logger, z.custom<inventoryV1.GetProductRequest>(), async (req, call) => {
      calls.push({ method: 'GetProduct', tenantId: req.tenantId, deadline: deadlineOf(call) });
      if (req.sku === 'slow') await sleep(slowMs);
      const product = products.get(`${req.tenantId}/${req.sku}`);
      if (!product) throw new GrpcError(Status.NOT_FOUND, `product ${req.sku} not found`);
      return { product };
    }),
  });
  grpcServer.addService(ordersV1.OrdersServiceService, {
    createOrder: unary(logger, z.custom<ordersV1.CreateOrderRequest>(), async (req, call) => {
      calls.push({ method: 'CreateOrder', tenantId: req.tenantId, deadline: deadlineOf(call) });
      const scope = `${req.tenantId}/${req.idempotencyKey}`;
      if (req.idempotencyKey) {
        const seen = idempotency.get(scope);
        if (seen && seen.fingerprint !== req.requestFingerprint) {
          throw new GrpcError(
            Status.FAILED_PRECONDITION,
            'key used for another request',
            'idempotency_key_reused',
          );
        }
        if (seen && !seen.response) {
          throw new GrpcError(
            Status.ABORTED,
            'first request still running',
            'idempotency_key_in_flight',
          );
        }
        if (seen?.response) return { ...seen.response, replayed: true };
        idempotency.set(scope, { fingerprint: req.requestFingerprint });
      }
      if (req.customerId === 'backlog-full') {
        throw new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          'backlog full',
          ERROR_REASONS.sagaBacklogFull,
        );
      }
      const delay = /^sleep-(\d+)$/.exec(req.customerId)?.[1];
      if (delay) await sleep(Number(delay));
      const now = new Date();
      const order: ordersV1.Order = {
        id: randomUUID(),
        tenantId: req.tenantId,
        customerId: req.customerId,
        status: ordersV1.OrderStatus.ORDER_STATUS_PENDING,
        items: req.items,
        totalCents: 0,
        reason: '',
        createdAt: now,
        updatedAt: now,
      };
      orders.set(order.id, order);
      const response = { order, replayed: false };
      if (req.idempotencyKey)
        idempotency.set(scope, { fingerprint: req.requestFingerprint, response });
      return response;
    }),
    getOrder: unary(logger, z.custom<ordersV1.GetOrderRequest>(), async (req, call) => {
      calls.push({ method: 'GetOrder', tenantId: req.tenantId, deadline: deadlineOf(call) });
      const order = orders.get(req.orderId);
      if (!order || order.tenantId !== req.tenantId)
        throw new GrpcError(Status.NOT_FOUND, 'order not found');
      return { order };
    }),
  });
  const port = await grpcServer.listen('127.0.0.1', 0);
  grpcServer.setServing(true);
  const address = `127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;

  return {
    id,
    address,
    endpoints: { id, endpoints: { orders: address, inventory: address } },
    calls,
    orderCount: () => orders.size,
    setOrderStatus(orderId, status, reason = '') {
      const order = orders.get(orderId);
      if (!order) throw new Error(`no order ${orderId}`);
      orders.set(orderId, { ...order, status, reason, updatedAt: new Date() });
    },
    stop: () => (stopped ??= grpcServer.shutdown(5_000)),
  };
}
