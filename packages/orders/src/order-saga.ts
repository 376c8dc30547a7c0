import { sagaMessages, inventoryMessagesV1 } from '@bulkhead/contracts';
import { defineSaga, type Instruction, type StepReply } from '@bulkhead/saga';

/**
 * The order saga, orchestrated by orders:
 *   reserveStock → authorizePayment → commitStock → capturePayment → CONFIRMED
 * A failed step compensates the earlier ones (release stock, void payment) → REJECTED.
 * commitStock and capturePayment come after the pivot (payment authorized): they cannot fail
 * for business reasons and are retried by the transport until they succeed.
 */
export const orderSaga = defineSaga('order', [
  { name: 'reserveStock', compensable: true },
  { name: 'authorizePayment', compensable: true },
  { name: 'commitStock', compensable: false },
  { name: 'capturePayment', compensable: false },
]);

export type OrderSagaStep = (typeof orderSaga.steps)[number]['name'];

/**
 * Rejection reasons exposed on the public API. `invalid_request` only appears if inventory
 * refused a command orders should never have sent (orders validates first).
 */
export type RejectionReason =
  'out_of_stock' | 'unknown_sku' | 'payment_declined' | 'invalid_request';

const { ReservationFailure } = inventoryMessagesV1;

function reservationFailureReason(
  failure: inventoryMessagesV1.ReservationFailure,
): RejectionReason {
  switch (failure) {
    case ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK:
      return 'out_of_stock';
    case ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU:
      return 'unknown_sku';
    default:
      return 'invalid_request';
  }
}

export interface PricedLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** A participant reply decoded into a saga step reply (plus the prices a reservation carries). */
export interface DecodedReply {
  reply: StepReply<OrderSagaStep>;
  pricedLines?: PricedLine[];
}

const M = sagaMessages;

/**
 * Maps a reply message (by envelope type) to the saga step it answers; undefined if it is not a
 * reply. Throws if the payload does not decode.
 */
export function decodeReply(type: string, payload: Uint8Array): DecodedReply | undefined {
  switch (type) {
    case M.StockReserved.typeName:
      return {
        reply: { step: 'reserveStock', outcome: 'succeeded' },
        pricedLines: M.StockReserved.decode(payload).lines.map((l) => ({
          sku: l.sku,
          quantity: l.quantity,
          unitPriceCents: l.unitPriceCents,
        })),
      };
    case M.StockReservationFailed.typeName: {
      const reason = reservationFailureReason(M.StockReservationFailed.decode(payload).failure);
      return { reply: { step: 'reserveStock', outcome: 'failed', reason } };
    }
    case M.StockReleased.typeName:
      return { reply: { step: 'reserveStock', outcome: 'compensated' } };
    case M.PaymentAuthorized.typeName:
      return { reply: { step: 'authorizePayment', outcome: 'succeeded' } };
    case M.PaymentDeclined.typeName:
      return { reply: { step: 'authorizePayment', outcome: 'failed', reason: 'payment_declined' } };
    case M.PaymentVoided.typeName:
      return { reply: { step: 'authorizePayment', outcome: 'compensated' } };
    case M.StockCommitted.typeName:
      return { reply: { step: 'commitStock', outcome: 'succeeded' } };
    case M.PaymentCaptured.typeName:
      return { reply: { step: 'capturePayment', outcome: 'succeeded' } };
    default:
      return undefined;
  }
}

export interface OrderFacts {
  id: string;
  customerId: string;
  paymentToken: string;
  totalCents: number;
  items: { sku: string; quantity: number }[];
}

export interface SagaCommand {
  destination: 'inventory' | 'payments';
  type: string;
  payload: Uint8Array;
}

/** Builds the command message an instruction asks for. */
export function commandFor(
  instruction: Instruction<OrderSagaStep>,
  order: OrderFacts,
): SagaCommand {
  const orderId = order.id;
  const inventory = (type: string, payload: Uint8Array): SagaCommand => ({
    destination: 'inventory',
    type,
    payload,
  });
  const payments = (type: string, payload: Uint8Array): SagaCommand => ({
    destination: 'payments',
    type,
    payload,
  });
  if (instruction.kind === 'execute') {
    switch (instruction.step) {
      case 'reserveStock':
        return inventory(
          M.ReserveStock.typeName,
          M.ReserveStock.encode({
            orderId,
            lines: order.items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
          }),
        );
      case 'authorizePayment':
        return payments(
          M.AuthorizePayment.typeName,
          M.AuthorizePayment.encode({
            orderId,
            customerId: order.customerId,
            amountCents: order.totalCents,
            paymentToken: order.paymentToken,
          }),
        );
      case 'commitStock':
        return inventory(M.CommitStock.typeName, M.CommitStock.encode({ orderId }));
      case 'capturePayment':
        return payments(M.CapturePayment.typeName, M.CapturePayment.encode({ orderId }));
    }
  }
  switch (instruction.step) {
    case 'reserveStock':
      return inventory(M.ReleaseStock.typeName, M.ReleaseStock.encode({ orderId }));
    case 'authorizePayment':
      return payments(M.VoidPayment.typeName, M.VoidPayment.encode({ orderId }));
    default:
      throw new Error(`step ${instruction.step} has no compensation`);
  }
}
