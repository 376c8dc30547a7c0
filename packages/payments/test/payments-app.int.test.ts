import { randomUUID } from 'node:crypto';
import { cellTopic } from '@bulkhead/cell';
import { paymentsV1, sagaMessages as M } from '@bulkhead/contracts';
import { createGrpcClient, Status, type GrpcClient } from '@bulkhead/grpc';
import { grpcError } from '@bulkhead/testkit';
import {
  command,
  type ParticipantUnderTest,
  type SagaDriver,
  startParticipant,
  testCellId,
} from '@bulkhead/saga-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payments as paymentsService, type PaymentsApp } from '../src/index.js';

const { PaymentStatus } = paymentsV1;
const cellId = testCellId();
const tenantId = 'tenant-a';
let payments: ParticipantUnderTest;
let app: PaymentsApp;
let saga: SagaDriver;
let client: GrpcClient<typeof paymentsV1.PaymentsServiceService>;

beforeAll(async () => {
  payments = await startParticipant(cellId, paymentsService);
  ({ app, saga } = payments);
  client = createGrpcClient(paymentsV1.PaymentsServiceService, payments.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await payments?.stop();
});

const payment = async (orderId: string, tenant = tenantId) =>
  (await client.getPayment({ tenantId: tenant, orderId })).payment;

const authorize = (orderId: string, paymentToken: string, amountCents = 4200, messageId?: string) =>
  command(
    M.AuthorizePayment,
    { orderId, customerId: 'c-1', amountCents, paymentToken },
    { tenantId, messageId },
  );

const capture = (orderId: string, messageId?: string) =>
  command(M.CapturePayment, { orderId }, { tenantId, messageId });
const voidPayment = (orderId: string, messageId?: string) =>
  command(M.VoidPayment, { orderId }, { tenantId, messageId });

async function authorized(orderId: string): Promise<string> {
  const reply = await saga.replyTo(await saga.send(authorize(orderId, 'tok_visa')));
  expect(reply.envelope.type).toBe(M.PaymentAuthorized.typeName);
  return M.PaymentAuthorized.decode(reply.payload).paymentId;
}

describe('payments app', () => {
  it('is ready once started', () => {
    expect(app.isReady()).toBe(true);
    expect(app.grpcPort).toBeGreaterThan(0);
  });

  it('authorizes tok_visa and replies PaymentAuthorized with the payment id', async () => {
    const orderId = randomUUID();
    const messageId = await saga.send(authorize(orderId, 'tok_visa', 1999));
    const reply = await saga.replyTo(messageId);

    expect(reply.topic).toBe(cellTopic(cellId, 'orders', 'saga-replies'));
    expect(reply.key).toBe(orderId);
    expect(reply.envelope).toMatchObject({
      type: M.PaymentAuthorized.typeName,
      tenantId,
      cellId,
      correlationId: orderId,
      causationId: messageId,
    });
    const { paymentId } = M.PaymentAuthorized.decode(reply.payload);
    expect(paymentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await payment(orderId)).toEqual({
      id: paymentId,
      tenantId,
      orderId,
      amountCents: 1999,
      status: PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
    });
  });

  it.each([
    ['tok_decline', 'card_declined'],
    ['tok_unknown', 'invalid_token'],
    ['', 'invalid_token'],
  ])('declines token %j as %s', async (token, declineCode) => {
    const orderId = randomUUID();
    const reply = await saga.replyTo(await saga.send(authorize(orderId, token)));
    expect(reply.envelope.type).toBe(M.PaymentDeclined.typeName);
    expect(M.PaymentDeclined.decode(reply.payload)).toEqual({ orderId, declineCode });
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_DECLINED);
  });

  it('captures an authorized payment; capturing again replies the same and changes nothing', async () => {
    const orderId = randomUUID();
    await authorized(orderId);
    const reply = await saga.replyTo(await saga.send(capture(orderId)));
    expect(reply.envelope.type).toBe(M.PaymentCaptured.typeName);
    expect(M.PaymentCaptured.decode(reply.payload)).toEqual({ orderId });
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);

    const again = await saga.replyTo(await saga.send(capture(orderId)));
    expect(again.envelope.type).toBe(M.PaymentCaptured.typeName);
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
  });

  it('voids an authorized payment; a void before any payment is remembered and refuses it later', async () => {
    const orderId = randomUUID();
    await authorized(orderId);
    const reply = await saga.replyTo(await saga.send(voidPayment(orderId)));
    expect(reply.envelope.type).toBe(M.PaymentVoided.typeName);
    expect(M.PaymentVoided.decode(reply.payload)).toEqual({ orderId });
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_VOIDED);

    // The void overtook the authorization (the saga gave up, then the command came after all).
    const first = randomUUID();
    const voided = await saga.replyTo(await saga.send(voidPayment(first)));
    expect(voided.envelope.type).toBe(M.PaymentVoided.typeName);
    expect(await payment(first)).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_VOIDED,
      amountCents: 0,
    });
    const late = await saga.replyTo(await saga.send(authorize(first, 'tok_visa', 4200)));
    expect(late.envelope.type).toBe(M.PaymentDeclined.typeName);
    expect(M.PaymentDeclined.decode(late.payload).declineCode).toBe('voided');
    expect(await payment(first)).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_VOIDED,
      amountCents: 0,
    });
  });

  it('refuses to capture a voided payment: CommandFailed, status unchanged', async () => {
    const orderId = randomUUID();
    await authorized(orderId);
    await saga.replyTo(await saga.send(voidPayment(orderId)));
    const answer = await saga.replyTo(await saga.send(capture(orderId)));
    expect(answer.envelope.type).toBe(M.CommandFailed.typeName);
    expect(M.CommandFailed.decode(answer.payload)).toMatchObject({
      orderId,
      commandType: M.CapturePayment.typeName,
      failure: 'permanent',
    });
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_VOIDED);
  });

  it('authorizes a zero amount (a free order) like any other', async () => {
    const orderId = randomUUID();
    const answer = await saga.replyTo(await saga.send(authorize(orderId, 'tok_visa', 0)));
    expect(answer.envelope.type).toBe(M.PaymentAuthorized.typeName);
    expect(await payment(orderId)).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
      amountCents: 0,
    });
  });

  it('handles the same message delivered twice once: one effect, one reply', async () => {
    const orderId = randomUUID();
    const messageId = randomUUID();
    await saga.replyTo(await saga.send(authorize(orderId, 'tok_visa', 4200, messageId)));
    const captureId = randomUUID();
    // The duplicate, then a capture of the same order: same key, so it is handled after it.
    await saga.sendBatch([
      authorize(orderId, 'tok_visa', 4200, messageId),
      capture(orderId, captureId),
    ]);
    await saga.replyTo(captureId);
    expect(saga.replies.filter((reply) => reply.envelope.causationId === messageId)).toHaveLength(
      1,
    );
    expect((await payment(orderId))?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
  });

  it('answers a repeated AuthorizePayment (new message id) with the first outcome', async () => {
    const orderId = randomUUID();
    const paymentId = await authorized(orderId);
    // Same order, another token: the order already has its payment.
    const again = await saga.replyTo(await saga.send(authorize(orderId, 'tok_decline')));
    expect(again.envelope.type).toBe(M.PaymentAuthorized.typeName);
    expect(M.PaymentAuthorized.decode(again.payload).paymentId).toBe(paymentId);

    const declined = randomUUID();
    await saga.replyTo(await saga.send(authorize(declined, 'tok_decline')));
    const retried = await saga.replyTo(await saga.send(authorize(declined, 'tok_visa')));
    expect(M.PaymentDeclined.decode(retried.payload).declineCode).toBe('card_declined');
    expect((await payment(declined))?.status).toBe(PaymentStatus.PAYMENT_STATUS_DECLINED);
  });
});

describe('PaymentsService gRPC', () => {
  it('returns NOT_FOUND for an unknown order and for another tenant’s payment', async () => {
    const orderId = randomUUID();
    await authorized(orderId);
    expect((await grpcError(payment(randomUUID()))).code).toBe(Status.NOT_FOUND);
    expect((await grpcError(payment(orderId, 'tenant-b'))).code).toBe(Status.NOT_FOUND);
  });

  it('rejects a request without tenant or order with INVALID_ARGUMENT', async () => {
    expect((await grpcError(payment('', tenantId))).code).toBe(Status.INVALID_ARGUMENT);
    expect((await grpcError(payment(randomUUID(), ''))).code).toBe(Status.INVALID_ARGUMENT);
  });
});
