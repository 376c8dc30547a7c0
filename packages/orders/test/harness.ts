/**
 * The orders app against real PostgreSQL and Kafka, with the test playing inventory and payments:
 * it reads the saga's commands from the command topics and answers on the replies topic.
 */
import { randomUUID } from 'node:crypto';
import { cellTopic } from '@bulkhead/cell';
import { ordersV1, sagaMessages, type MessageCodec } from '@bulkhead/contracts';
import { deadLetterTopic, type IncomingMessage } from '@bulkhead/event-bus';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import {
  createTestBus,
  startCellService,
  testCellId,
  type CellServiceUnderTest,
  type Collector,
  type TestBus,
} from '@bulkhead/saga-driver';
import { eventually } from '@bulkhead/testkit';
import { orders as ordersService, type OrdersApp } from '../src/index.js';

export const tenantId = 'tenant-a';

export interface OrdersHarness {
  readonly cellId: string;
  readonly app: OrdersApp;
  readonly client: GrpcClient<typeof ordersV1.OrdersServiceService>;
  /** Every command and order event the app sent. */
  readonly seen: Collector;
  /** Every message dead-lettered from the replies topic. */
  readonly deadLetters: Collector;
  readonly topics: Record<
    'inventoryCommands' | 'paymentsCommands' | 'sagaReplies' | 'orderEvents',
    string
  >;
  createOrder(overrides?: Partial<ordersV1.CreateOrderRequest>): Promise<ordersV1.Order>;
  /**
   * Places an order and answers its reservation (2 × SKU-1 at 50 cents): the saga then awaits
   * the authorization, whose command comes back with the order.
   */
  reservedOrder(overrides?: Partial<ordersV1.CreateOrderRequest>): Promise<{
    order: ordersV1.Order;
    reserve: { message: IncomingMessage };
    authorize: { message: IncomingMessage };
  }>;
  /** Waits for the next message of this type about this order. */
  next<T>(orderId: string, codec: MessageCodec<T>): Promise<{ message: IncomingMessage; body: T }>;
  /** The messages of this type about this order seen so far. */
  all(orderId: string, codec: MessageCodec<unknown>): IncomingMessage[];
  /** Answers a command on the replies topic, as a participant would; returns the message id. */
  reply<T>(
    command: IncomingMessage,
    codec: MessageCodec<T>,
    body: T,
    messageId?: string,
  ): Promise<string>;
  status(orderId: string): Promise<ordersV1.Order>;
  /** The order's saga row as stored. */
  sagaOf(orderId: string): Promise<{
    status: string;
    step: string | null;
    completing: string[];
    compensating: string[];
    attempts: number;
    deadline_at: Date | null;
  }>;
  close(): Promise<void>;
}

/** Starts orders on a throwaway cell (env: its settings, e.g. short saga deadlines). */
export async function startOrdersHarness(env: Record<string, string> = {}): Promise<OrdersHarness> {
  const cellId = testCellId();
  const topics = {
    inventoryCommands: cellTopic(cellId, 'inventory', 'commands'),
    paymentsCommands: cellTopic(cellId, 'payments', 'commands'),
    sagaReplies: cellTopic(cellId, 'orders', 'saga-replies'),
    orderEvents: cellTopic(cellId, 'orders', 'events'),
  };
  const orders: CellServiceUnderTest = await startCellService(cellId, ordersService, env);
  const app = orders.app as OrdersApp;
  const testBus: TestBus = createTestBus('orders-test');
  const seen = await testBus.collect([
    topics.inventoryCommands,
    topics.paymentsCommands,
    topics.orderEvents,
  ]);
  const deadLetters = await testBus.collect([deadLetterTopic(topics.sagaReplies)]);
  const client = createGrpcClient(ordersV1.OrdersServiceService, orders.grpcAddress);

  const all = (orderId: string, codec: MessageCodec<unknown>) =>
    seen.received.filter(
      (m) => m.envelope.correlationId === orderId && m.envelope.type === codec.typeName,
    );

  const harness: OrdersHarness = {
    cellId,
    app,
    client,
    seen,
    deadLetters,
    topics,
    async createOrder(overrides = {}) {
      const response = await client.createOrder({
        tenantId,
        customerId: 'c-1',
        items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 0 }],
        paymentToken: 'tok_visa',
        idempotencyKey: '',
        requestFingerprint: '',
        ...overrides,
      });
      return response.order!;
    },
    async reservedOrder(overrides = {}) {
      const order = await harness.createOrder(overrides);
      const reserve = await harness.next(order.id, sagaMessages.ReserveStock);
      await harness.reply(reserve.message, sagaMessages.StockReserved, {
        orderId: order.id,
        lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 50 }],
      });
      const authorize = await harness.next(order.id, sagaMessages.AuthorizePayment);
      return { order, reserve, authorize };
    },
    next: (orderId, codec) =>
      eventually(async () => {
        const message = all(orderId, codec)[0];
        return message ? { message, body: codec.decode(message.payload) } : undefined;
      }),
    all,
    async reply(command, codec, body, messageId = randomUUID()) {
      await testBus.bus.publish([
        {
          topic: topics.sagaReplies,
          key: command.key,
          envelope: {
            messageId,
            type: codec.typeName,
            tenantId: command.envelope.tenantId,
            cellId,
            correlationId: command.envelope.correlationId,
            causationId: command.envelope.messageId,
            occurredAt: new Date().toISOString(),
          },
          payload: codec.encode(body),
        },
      ]);
      return messageId;
    },
    async status(orderId) {
      return (await client.getOrder({ tenantId, orderId })).order!;
    },
    async sagaOf(orderId) {
      const { rows } = await app.context.pool.query(
        'SELECT status, step, completing, compensating, attempts, deadline_at FROM order_sagas WHERE order_id = $1',
        [orderId],
      );
      return rows[0];
    },
    async close() {
      client.close();
      await testBus.close();
      await orders.stop();
    },
  };
  return harness;
}
