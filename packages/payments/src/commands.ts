import { sagaMessages as M } from '@bulkhead/contracts';
import type { Logger } from '@bulkhead/logger';
import { authorizePayment, transitionPayment } from './payments.js';
import { reply, type Route, route } from '@bulkhead/saga-participant';
import { captureTransition, voidTransition } from './processor.js';

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
      return reply(M.PaymentAuthorized, { orderId, paymentId: payment.id });
    }),
    [M.CapturePayment.typeName]: route(M.CapturePayment, async (tx, tenantId, { orderId }) => {
      const transition = await transitionPayment(tx, tenantId, orderId, captureTransition);
      if (transition.kind === 'refuse') {
        // A saga bug, not a retryable failure: record it as handled and say so loudly.
        logger.error({ orderId, reason: transition.reason }, 'capture refused');
        return undefined;
      }
      return reply(M.PaymentCaptured, { orderId });
    }),
    [M.VoidPayment.typeName]: route(M.VoidPayment, async (tx, tenantId, { orderId }) => {
      const transition = await transitionPayment(tx, tenantId, orderId, voidTransition);
      if (transition.kind === 'refuse') {
        logger.error({ orderId, reason: transition.reason }, 'void refused');
        return undefined;
      }
      return reply(M.PaymentVoided, { orderId });
    }),
  };
}
