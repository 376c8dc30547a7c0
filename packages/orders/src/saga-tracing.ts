import { SpanKind, trace, type Attributes, type Span } from '@opentelemetry/api';
import { inSpan } from '@bulkhead/telemetry/context';
import { isEnded, type SagaState } from '@bulkhead/saga';
import type { OrderSagaStep } from './order-saga.js';

/**
 * Manual spans of the order saga, one per move the orchestrator makes (begun, a step answered, a
 * compensation answered, a deadline), in the trace of the message or request that caused it:
 * the commands it enqueues carry the span's context, so the next hop is its child. The span of
 * the move that ends the saga carries `bulkhead.saga.outcome`: `completed`, or `compensated` for a
 * saga that failed (its compensations, if any, all acknowledged) — the collector's tail sampling
 * keeps every compensated saga by that attribute.
 */
const tracer = trace.getTracer('@bulkhead/orders');

export const SAGA_ATTRIBUTES = {
  step: 'bulkhead.saga.step',
  orderId: 'bulkhead.order.id',
  outcome: 'bulkhead.saga.outcome',
} as const;

export type SagaMove = 'begin' | 'step answered' | 'compensation answered' | 'deadline';

/** Runs one move of an order's saga in its span (`saga order <move>`). */
export function inSagaSpan<T>(
  move: SagaMove,
  orderId: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return inSpan(
    tracer,
    `saga order ${move}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'bulkhead.saga.name': 'order',
        [SAGA_ATTRIBUTES.orderId]: orderId,
        ...attributes,
      },
    },
    work,
  );
}

/** What the move led to, on its span: the saga's status, what runs next, and the outcome at the end. */
export function recordSagaState(span: Span, saga: SagaState<OrderSagaStep>): void {
  span.setAttribute('bulkhead.saga.status', saga.status);
  if (saga.step) span.setAttribute('bulkhead.saga.next_step', saga.step);
  if (saga.completing.length > 0) {
    span.setAttribute('bulkhead.saga.completing', [...saga.completing]);
  }
  if (saga.compensating.length > 0) {
    span.setAttribute('bulkhead.saga.compensating', [...saga.compensating]);
  }
  if (saga.failureReason) span.setAttribute('bulkhead.saga.failure_reason', saga.failureReason);
  if (isEnded(saga)) {
    span.setAttribute(
      SAGA_ATTRIBUTES.outcome,
      saga.status === 'COMPLETED' ? 'completed' : 'compensated',
    );
  }
}
