import type { CellService } from '@bulkhead/cell';
import type { RejectionReason } from '@bulkhead/contracts';
import { sagaMessages, inventoryMessagesV1 } from '@bulkhead/contracts';
import {
  applyReply,
  defineSaga,
  onDeadline,
  startSaga,
  type DeadlineOutcome,
  type Instruction,
  type SagaState,
  type StepReply,
  type Transition,
} from '@bulkhead/saga';

/**
 * The order saga, orchestrated by orders:
 *   reserveStock → authorizePayment → (commitStock ∥ capturePayment) → CONFIRMED
 * A failed step compensates the earlier ones (release stock, void payment) → REJECTED; an
 * aborted or timed-out one is compensated too. commitStock and capturePayment come after the
 * pivot (payment authorized): they cannot fail for business reasons and are re-sent until they
 * succeed. Neither needs the other, so both are sent at once (two participants, one round trip).
 */
export const orderSaga = defineSaga(
  'order',
  [
    { name: 'reserveStock', compensable: true },
    { name: 'authorizePayment', compensable: true },
    { name: 'commitStock', compensable: false },
    { name: 'capturePayment', compensable: false },
  ],
  { afterPivot: 'at-once' },
);

export type OrderSagaStep = (typeof orderSaga.steps)[number]['name'];

const { ReservationFailure } = inventoryMessagesV1;

/** The public rejection reason of a failed reservation (contracts: REJECTION_REASONS). */
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
  /** Set for a CommandFailed: the command a participant could not carry out, and why. */
  failure?: { commandType: string; error: string };
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
    case M.CommandFailed.typeName: {
      const failed = M.CommandFailed.decode(payload);
      // Not a command of this saga: undefined, like an unknown reply.
      if (!Object.hasOwn(COMMANDS, failed.commandType)) return undefined;
      const command = COMMANDS[failed.commandType]!;
      const reply: StepReply<OrderSagaStep> =
        command.kind === 'execute'
          ? { step: command.step, outcome: 'aborted', reason: PROCESSING_FAILED }
          : { step: command.step, outcome: 'compensation-failed' };
      return { reply, failure: { commandType: failed.commandType, error: failed.error } };
    }
    default:
      return undefined;
  }
}

/** The rejection reason of a step whose command a participant could not carry out. */
const PROCESSING_FAILED: RejectionReason = 'processing_failed';

/** Every command the saga sends, by envelope type: the instruction it carries out. */
const COMMANDS: Readonly<Record<string, Instruction<OrderSagaStep>>> = {
  [M.ReserveStock.typeName]: { kind: 'execute', step: 'reserveStock' },
  [M.AuthorizePayment.typeName]: { kind: 'execute', step: 'authorizePayment' },
  [M.CommitStock.typeName]: { kind: 'execute', step: 'commitStock' },
  [M.CapturePayment.typeName]: { kind: 'execute', step: 'capturePayment' },
  [M.ReleaseStock.typeName]: { kind: 'compensate', step: 'reserveStock' },
  [M.VoidPayment.typeName]: { kind: 'compensate', step: 'authorizePayment' },
};

/** What an order's commands are built from. */
export interface OrderFacts {
  readonly id: string;
  readonly customerId: string;
  readonly paymentToken: string;
  readonly totalCents: number;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
}

export type OrderStatusName = 'PENDING' | 'CONFIRMED' | 'REJECTED';

/** An order's facts as stored (its saga state is stored beside it). */
export interface StoredOrder extends OrderFacts {
  readonly tenantId: string;
  readonly items: readonly PricedLine[];
  readonly status: OrderStatusName;
}

/** The participant a command is for (a cell service): it goes to that service's commands topic. */
export type SagaDestination = Extract<CellService, 'inventory' | 'payments'>;

export interface SagaCommand {
  readonly destination: SagaDestination;
  readonly type: string;
  readonly payload: Uint8Array;
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

/** The saga's first state and command for a new order. */
export interface Started {
  readonly saga: SagaState<OrderSagaStep>;
  readonly commands: readonly SagaCommand[];
}

/** Starts the saga of a new order: the first step (reserve the stock) runs. */
export function start(order: OrderFacts): Started {
  const { state, instructions } = startSaga(orderSaga);
  return { saga: state, commands: instructions.map((i) => commandFor(i, order)) };
}

/** The order's columns a reply rewrites. */
export interface OrderPatch {
  readonly items: readonly PricedLine[];
  readonly totalCents: number;
  readonly status: OrderStatusName;
  /** The rejection reason (the saga's failure reason); null unless REJECTED. */
  readonly reason: string | null;
}

/** The domain event of a decided saga (OrderConfirmed or OrderRejected), for the order events topic. */
export interface OrderEvent {
  readonly type: string;
  readonly payload: Uint8Array;
}

/** A reply the saga does not wait for (duplicate or stale): nothing changes, nothing is sent. */
export interface Ignored {
  readonly ignored: true;
}

/** A reply that moved the saga: what to store and what to send, all in one transaction. */
export interface Advanced {
  readonly ignored: false;
  readonly saga: SagaState<OrderSagaStep>;
  readonly orderPatch: OrderPatch;
  readonly commands: readonly SagaCommand[];
  /** Set when the order's outcome was decided by this transition. */
  readonly event?: OrderEvent;
}

export type Advance = Ignored | Advanced;

/**
 * Applies a participant's reply to an order and its saga. Pure. Priced lines (from the stock
 * reservation) become the order's items and total. The order stays PENDING while the saga runs;
 * it becomes CONFIRMED when the saga completes, and REJECTED — with the saga's failure reason —
 * as soon as the saga fails, while its compensations are still in flight (the outcome is
 * decided; the saga ends FAILED when the last compensation is acknowledged).
 */
export function advance(
  order: StoredOrder,
  saga: SagaState<OrderSagaStep>,
  decoded: DecodedReply,
): Advance {
  const transition = applyReply(orderSaga, saga, decoded.reply);
  if (transition.ignored) return { ignored: true };
  return advanced(order, saga, transition, decoded.pricedLines);
}

/** What the sweeper does to an order whose awaited step is overdue. */
export type Expiry = (Advanced & { readonly outcome: Exclude<DeadlineOutcome, 'none'> }) | Ignored;

/**
 * The awaited step's deadline passed (`resends`: how often it was re-sent already): re-send its
 * command(s), or — before the pivot, after `maxResends` — time the saga out (REJECTED `timeout`,
 * the step and the earlier ones compensated). Pure.
 */
export function expire(
  order: StoredOrder,
  saga: SagaState<OrderSagaStep>,
  limits: { resends: number; maxResends: number },
): Expiry {
  const transition = onDeadline(orderSaga, saga, limits);
  if (transition.outcome === 'none') return { ignored: true };
  return { ...advanced(order, saga, transition), outcome: transition.outcome };
}

function advanced(
  order: StoredOrder,
  from: SagaState<OrderSagaStep>,
  transition: Transition<OrderSagaStep>,
  pricedLines?: readonly PricedLine[],
): Advanced {
  const items = pricedLines ?? order.items;
  const totalCents = pricedLines
    ? pricedLines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0)
    : order.totalCents;
  const next = transition.state;
  const commands = transition.instructions.map((i) =>
    commandFor(i, { ...order, items, totalCents }),
  );
  const result = { ignored: false, saga: next, commands } as const;
  // The outcome is decided on leaving RUNNING: CONFIRMED, or REJECTED (compensating or failed).
  const decidedNow = from.status === 'RUNNING' && next.status !== 'RUNNING';
  switch (next.status) {
    case 'RUNNING':
      return { ...result, orderPatch: { items, totalCents, status: 'PENDING', reason: null } };
    case 'COMPLETED':
      return {
        ...result,
        orderPatch: { items, totalCents, status: 'CONFIRMED', reason: null },
        event: {
          type: M.OrderConfirmed.typeName,
          payload: M.OrderConfirmed.encode({ orderId: order.id, totalCents }),
        },
      };
    default: {
      const reason = next.failureReason;
      return {
        ...result,
        orderPatch: { items, totalCents, status: 'REJECTED', reason },
        ...(decidedNow && {
          event: {
            type: M.OrderRejected.typeName,
            payload: M.OrderRejected.encode({ orderId: order.id, reason: reason ?? '' }),
          },
        }),
      };
    }
  }
}
