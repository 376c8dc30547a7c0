import { sagaMessages as M } from '@bulkhead/contracts';
import type { Logger } from '@bulkhead/logger';
import { authorizePayment, transitionPayment } from './payments.js';
import { PermanentMessageError } from '@bulkhead/event-bus';
import { reply, type Route, route } from '@bulkhead/saga-participant';
import { captureTransition, voidTransition } from './processor.js';

/** The decline code of an authorization that came after its order's void. */
export const VOIDED_DECLINE_CODE = 'voided';

/** The saga commands payments carries out, by envelope type. */
export function paymentRoutes(logger: Logger): Record<string, Route> {
  return {
    [M.AuthorizePayment.typeName]: route(M.AuthorizePayment, async (tx, tenantId, command) => {
      const { orderId } = command;
      const payment = await authorizePayment(tx, tenantId, command);
      if (payment.status === 'DECLINED') {
        logger.info({ orderId, declineCode: payment.declineCode }, 'payment declined');
        return reply(M.PaymentDeclined, { orderId, declineCode: payment.declineCode ?? '' });
      }
      if (payment.status === 'VOIDED') {
        // The void came first (the saga gave up on this step): nothing is authorized now.
        logger.info({ orderId }, 'authorization after its void: declined');
        return reply(M.PaymentDeclined, { orderId, declineCode: VOIDED_DECLINE_CODE });
      }
      return reply(M.PaymentAuthorized, { orderId, paymentId: payment.id });
    }),
    [M.CapturePayment.typeName]: route(M.CapturePayment, async (tx, tenantId, { orderId }) => {
      const transition = await transitionPayment(tx, tenantId, orderId, captureTransition);
      // A saga bug, not something a retry fixes: dead-lettered, and the saga is told.
      if (transition.kind === 'refuse') {
        throw new PermanentMessageError(
          `capture of order ${orderId} refused: ${transition.reason}`,
        );
      }
      return reply(M.PaymentCaptured, { orderId });
    }),
    [M.VoidPayment.typeName]: route(M.VoidPayment, async (tx, tenantId, { orderId }) => {
      const transition = await transitionPayment(tx, tenantId, orderId, voidTransition);
      if (transition.kind === 'refuse') {
        throw new PermanentMessageError(`void of order ${orderId} refused: ${transition.reason}`);
      }
      return reply(M.PaymentVoided, { orderId });
    }),
  };
}
