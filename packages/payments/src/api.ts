import { paymentsV1 } from '@bulkhead/contracts';
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

/** The gRPC PaymentsService: the query side of the processor. */
export function paymentsService(pool: Pool, logger: Logger): paymentsV1.PaymentsServiceServer {
  return {
    getPayment: unary(logger, async (request: paymentsV1.GetPaymentRequest) => {
      if (request.tenantId === '' || request.orderId === '') {
        throw new GrpcError(Status.INVALID_ARGUMENT, 'tenant_id and order_id are required');
      }
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
