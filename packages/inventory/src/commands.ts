import { inventoryMessagesV1, sagaMessages as M } from '@bulkhead/contracts';
import type { Logger } from '@bulkhead/logger';
import type { PoolClient } from '@bulkhead/db';
import { PermanentMessageError, type IncomingMessage } from '@bulkhead/event-bus';
import { reply, type Route, route } from '@bulkhead/saga-participant';
import type { ReservationFailure } from './reservation.js';
import { lockStockOf, reserveStock, settleReservation } from './stock.js';

const { ReservationFailure: Failure } = inventoryMessagesV1;

const FAILURE_CODES: Record<ReservationFailure, inventoryMessagesV1.ReservationFailure> = {
  OUT_OF_STOCK: Failure.RESERVATION_FAILURE_OUT_OF_STOCK,
  UNKNOWN_SKU: Failure.RESERVATION_FAILURE_UNKNOWN_SKU,
  INVALID_REQUEST: Failure.RESERVATION_FAILURE_INVALID_REQUEST,
  CANCELLED: Failure.RESERVATION_FAILURE_CANCELLED,
};

/** The saga commands inventory carries out, by envelope type. */
export function inventoryRoutes(logger: Logger): Record<string, Route> {
  return {
    [M.ReserveStock.typeName]: route(M.ReserveStock, async (tx, tenantId, { orderId, lines }) => {
      const decision = await reserveStock(tx, tenantId, orderId, lines);
      if (decision.ok) return reply(M.StockReserved, { orderId, lines: decision.lines });
      logger.info(
        { orderId, failure: decision.failure, detail: decision.detail },
        'reservation failed',
      );
      return reply(M.StockReservationFailed, {
        orderId,
        failure: FAILURE_CODES[decision.failure],
        detail: decision.detail,
      });
    }),
    [M.ReleaseStock.typeName]: route(M.ReleaseStock, async (tx, tenantId, { orderId }) => {
      const settled = await settleReservation(tx, tenantId, orderId, 'RELEASED');
      if (settled.kind === 'contradicts') {
        throw new PermanentMessageError(`cannot release order ${orderId}: ${settled.detail}`);
      }
      logger.info({ orderId, ...settled }, 'stock released');
      return reply(M.StockReleased, { orderId });
    }),
    [M.CommitStock.typeName]: route(M.CommitStock, async (tx, tenantId, { orderId }) => {
      const settled = await settleReservation(tx, tenantId, orderId, 'COMMITTED');
      // A saga bug, not something a retry fixes: dead-lettered, and the saga is told.
      if (settled.kind === 'contradicts') {
        throw new PermanentMessageError(`cannot commit order ${orderId}: ${settled.detail}`);
      }
      return reply(M.StockCommitted, { orderId });
    }),
  };
}

/**
 * Before a batch of commands runs: the stock rows all of them will change, locked in one order
 * (lockStockOf). The commands were decoded once already (the batch would have failed otherwise).
 */
export async function lockStockOfCommands(
  tx: PoolClient,
  commands: readonly IncomingMessage[],
): Promise<void> {
  const reserve: Array<{ tenantId: string; sku: string }> = [];
  const settle: Array<{ tenantId: string; orderId: string }> = [];
  for (const { envelope, payload } of commands) {
    const { tenantId } = envelope;
    if (envelope.type === M.ReserveStock.typeName) {
      for (const { sku } of M.ReserveStock.decode(payload).lines) reserve.push({ tenantId, sku });
    } else if (
      envelope.type === M.ReleaseStock.typeName ||
      envelope.type === M.CommitStock.typeName
    ) {
      settle.push({ tenantId, orderId: envelope.correlationId });
    }
  }
  await lockStockOf(tx, { reserve, settle });
}
