import { v7 as uuidv7 } from 'uuid';
import { cellTopic } from '@bulkhead/cell';
import type { ordersV1 } from '@bulkhead/contracts';
import type { PoolClient, Queryable } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import type { Span } from '@opentelemetry/api';
import type { Logger } from '@bulkhead/logger';
import type { Outbox, OutboxMessage } from '@bulkhead/outbox';
import { isEnded, type SagaState } from '@bulkhead/saga';
import type { SagaEnd } from './saga-metrics.js';
import {
  advance,
  expire,
  start,
  type Advanced,
  type DecodedReply,
  type OrderSagaStep,
  type SagaCommand,
} from './order-saga.js';
import { insertOrder, loadOrderForUpdate, saveMove, type SagaDeadline } from './order-store.js';
import { inSagaSpan, recordSagaState, SAGA_ATTRIBUTES } from './saga-tracing.js';

/**
 * The orders domain, used by the gRPC API and the saga consumer: the order store
 * (order-store.ts), the pure saga (order-saga.ts) and the outbox, in the caller's transaction.
 */

export { findOrder } from './order-store.js';

export interface NewOrder {
  tenantId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  paymentToken: string;
}

/** How long the saga waits for a reply, and how often it re-sends before giving up. */
export interface SagaTiming {
  /** The deadline of a step (and of each re-send of its command). */
  stepTimeoutMs: number;
  /** Re-sends of a step's command before a step before the pivot times out. */
  maxResends: number;
  /** Past maxResends (after the pivot, or compensating) re-sends back off up to this. */
  maxResendDelayMs: number;
}

/** What the orders domain needs of its service's context. */
export interface CellContext {
  cellId: string;
  outbox: Outbox;
  saga: SagaTiming;
  /** False (ORDER_EVENTS=off): a decided order's domain event is not sent. */
  publishOrderEvents: boolean;
}

/**
 * When the sweeper looks at a saga next: a step's deadline after each move and each of the first
 * maxResends re-sends, then doubling up to maxResendDelayMs (a saga that cannot time out — after
 * the pivot, or compensating — keeps being re-sent, ever less often).
 */
export function nextDeadline(
  timing: SagaTiming,
  saga: SagaState<OrderSagaStep>,
  attempts: number,
): SagaDeadline {
  if (isEnded(saga)) return null;
  const beyond = attempts - timing.maxResends;
  const inMs =
    beyond < 0
      ? timing.stepTimeoutMs
      : Math.min(timing.stepTimeoutMs * 2 ** (beyond + 1), timing.maxResendDelayMs);
  return { inMs, attempts };
}

function outboxMessage(
  cell: CellContext,
  order: { id: string; tenantId: string },
  topic: string,
  message: { type: string; payload: Uint8Array },
  causationId?: string,
): OutboxMessage {
  return {
    topic,
    key: order.id,
    type: message.type,
    payload: message.payload,
    tenantId: order.tenantId,
    cellId: cell.cellId,
    correlationId: order.id,
    ...(causationId ? { causationId } : {}),
  };
}

function commandMessages(
  cell: CellContext,
  order: { id: string; tenantId: string },
  commands: readonly SagaCommand[],
  causationId?: string,
): OutboxMessage[] {
  // A saga command goes to its destination's commands topic (<cell>.<participant>.commands).
  return commands.map((command) =>
    outboxMessage(
      cell,
      order,
      cellTopic(cell.cellId, command.destination, 'commands'),
      command,
      causationId,
    ),
  );
}

/** Inserts a PENDING order, starts its saga and enqueues the first command — all in tx. */
export async function placeOrder(
  tx: Queryable,
  cell: CellContext,
  order: NewOrder,
): Promise<ordersV1.Order> {
  const id = uuidv7();
  const started = start({ ...order, id, totalCents: 0 });
  const items = order.items.map((i) => ({ ...i, unitPriceCents: 0 }));
  const first = { [SAGA_ATTRIBUTES.step]: started.saga.step ?? '' };
  return inSagaSpan('begin', id, first, async (span) => {
    recordSagaState(span, started.saga);
    const placed = await insertOrder(
      tx,
      { ...order, id, items },
      started.saga,
      cell.saga.stepTimeoutMs,
    );
    await cell.outbox.enqueue(
      tx,
      commandMessages(cell, { id, tenantId: order.tenantId }, started.commands),
    );
    return placed;
  });
}

/**
 * Advances the saga of one order with a participant's reply, inside the inbox transaction:
 * saga state, order state, next commands and (at the end) the order's domain event commit together.
 */
export async function handleSagaReply(
  tx: PoolClient,
  cell: CellContext,
  message: IncomingMessage,
  decoded: DecodedReply,
  logger: Logger,
): Promise<SagaEnd | undefined> {
  const { correlationId: orderId } = message.envelope;
  const { step, outcome } = decoded.reply;
  const compensation = outcome === 'compensated' || outcome === 'compensation-failed';
  return inSagaSpan(
    compensation ? 'compensation answered' : 'step answered',
    orderId,
    { [SAGA_ATTRIBUTES.step]: step, 'bulkhead.saga.step.outcome': outcome },
    (span) => advanceWithReply(tx, cell, message, decoded, logger, span),
  );
}

async function advanceWithReply(
  tx: PoolClient,
  cell: CellContext,
  message: IncomingMessage,
  decoded: DecodedReply,
  logger: Logger,
  span: Span,
): Promise<SagaEnd | undefined> {
  const { correlationId: orderId, tenantId, messageId } = message.envelope;
  const found = await loadOrderForUpdate(tx, tenantId, orderId);
  if (!found) {
    logger.warn({ orderId, tenantId }, 'saga reply for an unknown order');
    return;
  }
  const { order, saga, acceptedAt } = found;
  if (decoded.failure) {
    logger.warn(
      { orderId, step: decoded.reply.step, ...decoded.failure },
      'a participant could not carry out a saga command',
    );
  }
  const next = advance(order, saga, decoded);
  if (next.ignored) {
    span.setAttribute('bulkhead.saga.ignored', true);
    logger.debug(
      { orderId, reply: decoded.reply, state: saga },
      'stale or duplicate saga reply ignored',
    );
    return;
  }
  recordSagaState(span, next.saga);
  await store(tx, cell, order, next, nextDeadline(cell.saga, next.saga, 0), messageId);
  logger.debug({ orderId, from: saga, to: next.saga }, 'saga advanced');
  return sagaEnd(next.saga, acceptedAt);
}

/** How the saga ended, if this move ended it (for the metrics, counted once it committed). */
function sagaEnd(saga: SagaState<OrderSagaStep>, acceptedAt: Date): SagaEnd | undefined {
  if (!isEnded(saga)) return undefined;
  const completed = saga.status === 'COMPLETED';
  return {
    outcome: completed ? 'completed' : 'compensated',
    reason: completed ? 'none' : (saga.failureReason ?? 'unknown'),
    seconds: Math.max(0, (Date.now() - acceptedAt.getTime()) / 1_000),
  };
}

/** What the sweeper did with one saga, and the step whose deadline had passed. */
export type Swept =
  { outcome: 'skipped' } | { outcome: 'resent' | 'timed-out'; step: OrderSagaStep };

/**
 * The sweeper's work on one overdue saga, in tx: re-send what it awaits, or time it out. A saga
 * locked by a reply being handled is skipped (that reply moves it; its deadline moves with it).
 * Returns what happened, for the log, the metrics and the tests.
 */
export async function sweepSaga(
  tx: PoolClient,
  cell: CellContext,
  ref: { tenantId: string; orderId: string },
  logger: Logger,
): Promise<Swept> {
  const found = await loadOrderForUpdate(tx, ref.tenantId, ref.orderId, { skipLocked: true });
  if (!found?.overdue) return { outcome: 'skipped' };
  const { order, saga, attempts } = found;
  const next = expire(order, saga, { resends: attempts, maxResends: cell.saga.maxResends });
  // The step awaited (the metrics' label): the running one, the first of those completing at
  // once, or the latest compensation awaited.
  const awaited = saga.step ?? saga.completing[0] ?? saga.compensating[0];
  if (next.ignored || !awaited) return { outcome: 'skipped' };
  const step =
    saga.step ?? (saga.completing.length > 0 ? saga.completing : saga.compensating).join(',');
  const attributes = { [SAGA_ATTRIBUTES.step]: step, 'bulkhead.saga.deadline': next.outcome };
  return inSagaSpan('deadline', order.id, attributes, async (span): Promise<Swept> => {
    recordSagaState(span, next.saga);
    const log = { orderId: order.id, tenantId: order.tenantId, saga, attempts };
    if (next.outcome === 'timed-out') {
      await store(tx, cell, order, next, nextDeadline(cell.saga, next.saga, 0));
      logger.warn({ ...log, to: next.saga }, 'saga step timed out; compensating');
      return { outcome: 'timed-out', step: awaited };
    }
    const resends = attempts + 1;
    await store(tx, cell, order, next, nextDeadline(cell.saga, next.saga, resends));
    if (resends > cell.saga.maxResends) {
      // It cannot time out (after the pivot, or compensating): it must be made to progress.
      logger.error({ ...log, resends }, 'saga stuck: re-sent its awaited command again');
    } else {
      logger.info({ ...log, resends }, 'saga step overdue; command re-sent');
    }
    return { outcome: 'resent', step: awaited };
  });
}

/** Stores a move of the saga: its state and deadline, the order, the commands and the event. */
async function store(
  tx: Queryable,
  cell: CellContext,
  order: { id: string; tenantId: string },
  next: Advanced,
  deadline: SagaDeadline,
  causationId?: string,
): Promise<void> {
  await saveMove(tx, order.id, next.saga, deadline, next.orderPatch);
  const messages = commandMessages(cell, order, next.commands, causationId);
  if (next.event && cell.publishOrderEvents) {
    const topic = cellTopic(cell.cellId, 'orders', 'events');
    messages.push(outboxMessage(cell, order, topic, next.event, causationId));
  }
  if (messages.length > 0) await cell.outbox.enqueue(tx, messages);
}
