import { z } from 'zod';
import { ERROR_REASONS, LIMITS, ordersV1, SKU_PATTERN, textRule } from '@bulkhead/contracts';
import { withTransaction, type Pool } from '@bulkhead/db';
import { deadlineGuard, GrpcError, Status, unary } from '@bulkhead/grpc';
import {
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  withIdempotencyKey,
} from '@bulkhead/idempotency';
import type { Logger } from '@bulkhead/logger';
import type { SagaBacklog } from './backlog.js';
import type { SagaMetrics } from './saga-metrics.js';
import { findOrder, placeOrder, type CellContext } from './orders.js';

const idRule = textRule(LIMITS.maxIdLength);
const id = z.string().refine(idRule.test, idRule.message);

const createOrderSchema = z
  .object({
    tenantId: z.string().min(1).max(LIMITS.maxIdLength),
    customerId: id,
    items: z
      .array(
        z.object({
          sku: z.string().regex(SKU_PATTERN),
          quantity: z.number().int().min(1).max(LIMITS.maxLineQuantity),
        }),
      )
      .min(1)
      .max(LIMITS.maxOrderLines)
      .refine(
        (items) => new Set(items.map((i) => i.sku)).size === items.length,
        'skus must be unique',
      ),
    paymentToken: id,
    idempotencyKey: z.string().max(LIMITS.maxIdempotencyKeyLength),
    requestFingerprint: z.string().max(LIMITS.maxFingerprintLength),
  })
  .refine((r) => !r.idempotencyKey || r.requestFingerprint, {
    message: 'request_fingerprint is required with an idempotency_key',
    path: ['requestFingerprint'],
  });

const getOrderSchema = z.object({ tenantId: z.string().min(1), orderId: z.uuid() });

/** The OrdersService gRPC implementation. */
export function ordersService(
  pool: Pool,
  cell: CellContext,
  logger: Logger,
  backlog: SagaBacklog,
  metrics: SagaMetrics,
): ordersV1.OrdersServiceServer {
  return {
    createOrder: unary(logger, createOrderSchema, async (input, call) => {
      const admission = await backlog.tryAdmit();
      if (!admission) {
        metrics.backlogRejected();
        throw new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          `the cell has ${String(backlog.state.max)} orders in progress; retry later`,
          ERROR_REASONS.sagaBacklogFull,
        );
      }
      const newOrder = {
        tenantId: input.tenantId,
        customerId: input.customerId,
        items: input.items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
        paymentToken: input.paymentToken,
      };
      try {
        const created = await withTransaction<ordersV1.CreateOrderResponse>(
          pool,
          async (tx) => {
            if (!input.idempotencyKey) {
              return { order: await placeOrder(tx, cell, newOrder), replayed: false };
            }
            const { response, replayed } = await withIdempotencyKey(
              tx,
              {
                scope: input.tenantId,
                key: input.idempotencyKey,
                fingerprint: input.requestFingerprint,
              },
              async () => ordersV1.Order.toJSON(await placeOrder(tx, cell, newOrder)),
            );
            return { order: ordersV1.Order.fromJSON(response), replayed };
          },
          deadlineGuard(call),
        );
        // Committed: a saga began (a replay began none, and takes no place in the backlog).
        if (created.replayed) admission.release();
        else metrics.started();
        return created;
      } catch (error) {
        admission.release(); // nothing committed: no saga began
        if (error instanceof IdempotencyKeyInFlightError) {
          throw new GrpcError(Status.ABORTED, error.message, ERROR_REASONS.idempotencyKeyInFlight);
        }
        if (error instanceof IdempotencyKeyReusedError) {
          throw new GrpcError(
            Status.FAILED_PRECONDITION,
            error.message,
            ERROR_REASONS.idempotencyKeyReused,
          );
        }
        throw error;
      }
    }),
    getOrder: unary(logger, getOrderSchema, async (input) => {
      const order = await findOrder(pool, input.tenantId, input.orderId);
      if (!order) throw new GrpcError(Status.NOT_FOUND, `order ${input.orderId} not found`);
      return { order };
    }),
  };
}
