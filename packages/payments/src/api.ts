import { z } from 'zod';
import { LIMITS, paymentsV1 } from '@bulkhead/contracts';
import type { Pool } from '@bulkhead/db';
import { GrpcError, Status, unary } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import { findPayment } from './payments.js';
import type { PaymentStatus } from './processor.js';

const { PaymentStatus: ProtoStatus } = paymentsV1;

const STATUS_CODES: Record<PaymentStatus, paymentsV1.PaymentStatus> = {
  AUTHORIZED: ProtoStatus.PAYMENT_STATUS_AUTHORIZED,
  DECLINED: ProtoStatus.PAYMENT_STATUS_DECLINED,
  CAPTURED: ProtoStatus.PAYMENT_STATUS_CAPTURED,
  VOIDED: ProtoStatus.PAYMENT_STATUS_VOIDED,
};

const getPaymentSchema = z.object({
  tenantId: z.string().min(1).max(LIMITS.maxIdLength),
  orderId: z.string().min(1).max(LIMITS.maxIdLength),
});

/** The gRPC PaymentsService: the query side of the processor. */
export function paymentsService(pool: Pool, logger: Logger): paymentsV1.PaymentsServiceServer {
  return {
    getPayment: unary(logger, getPaymentSchema, async (request) => {
      const payment = await findPayment(pool, request.tenantId, request.orderId);
      if (!payment)
        throw new GrpcError(Status.NOT_FOUND, `no payment for order ${request.orderId}`);
      return {
        payment: {
          id: payment.id,
          tenantId: payment.tenantId,
          orderId: payment.orderId,
          amountCents: payment.amountCents,
          status: STATUS_CODES[payment.status],
        },
      };
    }),
  };
}
