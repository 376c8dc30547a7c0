import { randomUUID } from 'node:crypto';
import { cellTopic } from '@bulkhead/cell';
import { inventoryMessagesV1, inventoryV1, sagaMessages as M } from '@bulkhead/contracts';
import type { Pool } from '@bulkhead/db';
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
import { inventory as inventoryService, type InventoryApp } from '../src/index.js';

const { ReservationFailure } = inventoryMessagesV1;
const cellId = testCellId();
const tenantId = 'tenant-a';
let inventory: ParticipantUnderTest;
let app: InventoryApp;
let saga: SagaDriver;
let client: GrpcClient<typeof inventoryV1.InventoryServiceService>;
let pool: Pool;

beforeAll(async () => {
  inventory = await startParticipant(cellId, inventoryService);
  ({ app, saga } = inventory);
  client = createGrpcClient(inventoryV1.InventoryServiceService, inventory.grpcAddress);
  pool = app.context.pool; // for reading the reservations table
});

afterAll(async () => {
  client?.close();
  await inventory?.stop();
});

const upsert = (request: Partial<inventoryV1.UpsertProductRequest>) =>
  client
    .upsertProduct({
      tenantId,
      sku: 'sku',
      name: 'A product',
      priceCents: 100,
      stock: 0,
      ...request,
    })
    .then((response) => response.product);

const product = async (sku: string, tenant = tenantId) =>
  (await client.getProduct({ tenantId: tenant, sku })).product;

/** A fresh sku (the app is shared by every test) with this much stock. */
async function stocked(stock: number, priceCents = 250): Promise<string> {
  const sku = `SKU-${randomUUID().slice(0, 8)}`;
  await upsert({ sku, stock, priceCents });
  return sku;
}

const reserve = (orderId: string, lines: { sku: string; quantity: number }[], messageId?: string) =>
  command(M.ReserveStock, { orderId, lines }, { tenantId, messageId });

async function reservationRows(orderId: string) {
  const result = await pool.query<{ sku: string; quantity: number; status: string }>(
    'SELECT sku, quantity, status FROM reservations WHERE tenant_id = $1 AND order_id = $2 ORDER BY sku',
    [tenantId, orderId],
  );
  return result.rows;
}

describe('inventory app', () => {
  it('is ready once started', () => {
    expect(app.isReady()).toBe(true);
    expect(app.grpcPort).toBeGreaterThan(0);
  });

  it('shows its outbox and its consumer lag on the ops port (/messaging)', async () => {
    const orderId = randomUUID();
    await saga.replyTo(await saga.send(command(M.ReleaseStock, { orderId }, { tenantId })));
    const view = (await app.opsViews?.['/messaging']?.()) as {
      outbox: { unsent: number; parked: number; oldestUnsentAgeMs: number | null };
      consumer: { topic: string; partition: number; lag: number }[];
    };
    expect(view.outbox).toMatchObject({ parked: 0 });
    expect(view.outbox.unsent).toBeGreaterThanOrEqual(0);
    const topic = cellTopic(cellId, 'inventory', 'commands');
    expect(view.consumer.map((p) => `${p.topic}/${p.partition}`).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `${topic}/${i}`).sort(),
    );
    for (const partition of view.consumer) expect(partition.lag).toBeGreaterThanOrEqual(0);
  });

  it('reserves stock, replying with priced lines on the replies topic', async () => {
    const apple = await stocked(10, 120);
    const pear = await stocked(3, 300);
    const orderId = randomUUID();
    const messageId = await saga.send(
      reserve(orderId, [
        { sku: pear, quantity: 3 },
        { sku: apple, quantity: 4 },
      ]),
    );
    const reply = await saga.replyTo(messageId);

    expect(reply.topic).toBe(cellTopic(cellId, 'orders', 'saga-replies'));
    expect(reply.key).toBe(orderId);
    expect(reply.envelope).toMatchObject({
      type: M.StockReserved.typeName,
      tenantId,
      cellId,
      correlationId: orderId,
      causationId: messageId,
    });
    expect(reply.envelope.messageId).not.toBe(messageId);
    const expected = [
      { sku: apple, quantity: 4, unitPriceCents: 120 },
      { sku: pear, quantity: 3, unitPriceCents: 300 },
    ].sort((a, b) => (a.sku < b.sku ? -1 : 1));
    expect(M.StockReserved.decode(reply.payload)).toEqual({ orderId, lines: expected });
    expect(await product(apple)).toMatchObject({ available: 6, reserved: 4 });
    expect(await product(pear)).toMatchObject({ available: 0, reserved: 3 });
  });

  it('fails a reservation with a short line as OUT_OF_STOCK and moves nothing', async () => {
    const apple = await stocked(10);
    const pear = await stocked(1);
    const orderId = randomUUID();
    const messageId = await saga.send(
      reserve(orderId, [
        { sku: apple, quantity: 2 },
        { sku: pear, quantity: 2 },
      ]),
    );
    const reply = await saga.replyTo(messageId);

    expect(reply.envelope.type).toBe(M.StockReservationFailed.typeName);
    const failed = M.StockReservationFailed.decode(reply.payload);
    expect(failed).toMatchObject({
      orderId,
      failure: ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK,
    });
    expect(failed.detail).toContain(pear);
    expect(await product(apple)).toMatchObject({ available: 10, reserved: 0 });
    expect(await product(pear)).toMatchObject({ available: 1, reserved: 0 });
    expect(await reservationRows(orderId)).toEqual([]);
  });

  it('fails a reservation with an unknown sku as UNKNOWN_SKU and moves nothing', async () => {
    const apple = await stocked(10);
    const orderId = randomUUID();
    const messageId = await saga.send(
      reserve(orderId, [
        { sku: apple, quantity: 1 },
        { sku: 'NO-SUCH-SKU', quantity: 1 },
      ]),
    );
    const reply = await saga.replyTo(messageId);

    expect(reply.envelope.type).toBe(M.StockReservationFailed.typeName);
    expect(M.StockReservationFailed.decode(reply.payload)).toMatchObject({
      orderId,
      failure: ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU,
    });
    expect(await product(apple)).toMatchObject({ available: 10, reserved: 0 });
  });

  it('treats another tenant’s sku as unknown', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const messageId = await saga.send(
      command(M.ReserveStock, { orderId, lines: [{ sku, quantity: 1 }] }, { tenantId: 'tenant-b' }),
    );
    const reply = await saga.replyTo(messageId);
    expect(M.StockReservationFailed.decode(reply.payload).failure).toBe(
      ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU,
    );
    expect(await product(sku)).toMatchObject({ available: 5, reserved: 0 });
  });

  it('releases reserved stock back to available; a second release moves nothing', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const reserved = await saga.send(reserve(orderId, [{ sku, quantity: 2 }]));
    await saga.replyTo(reserved);
    expect(await product(sku)).toMatchObject({ available: 3, reserved: 2 });

    const released = await saga.send(command(M.ReleaseStock, { orderId }, { tenantId }));
    const reply = await saga.replyTo(released);
    expect(reply.envelope.type).toBe(M.StockReleased.typeName);
    expect(M.StockReleased.decode(reply.payload)).toEqual({ orderId });
    expect(await product(sku)).toMatchObject({ available: 5, reserved: 0 });
    expect(await reservationRows(orderId)).toEqual([{ sku, quantity: 2, status: 'RELEASED' }]);

    const again = await saga.send(command(M.ReleaseStock, { orderId }, { tenantId }));
    expect((await saga.replyTo(again)).envelope.type).toBe(M.StockReleased.typeName);
    expect(await product(sku)).toMatchObject({ available: 5, reserved: 0 });
  });

  it('replies StockReleased when there is nothing to release', async () => {
    const orderId = randomUUID();
    const messageId = await saga.send(command(M.ReleaseStock, { orderId }, { tenantId }));
    expect((await saga.replyTo(messageId)).envelope.type).toBe(M.StockReleased.typeName);
  });

  it('commits reserved stock: the units leave, available stays', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const reserved = await saga.send(reserve(orderId, [{ sku, quantity: 2 }]));
    await saga.replyTo(reserved);

    const committed = await saga.send(command(M.CommitStock, { orderId }, { tenantId }));
    const reply = await saga.replyTo(committed);
    expect(reply.envelope.type).toBe(M.StockCommitted.typeName);
    expect(await product(sku)).toMatchObject({ available: 3, reserved: 0 });
    expect(await reservationRows(orderId)).toEqual([{ sku, quantity: 2, status: 'COMMITTED' }]);

    // A late release cannot put committed units back.
    const released = await saga.send(command(M.ReleaseStock, { orderId }, { tenantId }));
    await saga.replyTo(released);
    expect(await product(sku)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('handles the same message delivered twice once: one effect, one reply', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const messageId = randomUUID();
    await saga.send(reserve(orderId, [{ sku, quantity: 2 }], messageId));
    await saga.replyTo(messageId);
    // The duplicate, then a commit of the same order: same key, so the commit is handled after it.
    const commitId = randomUUID();
    await saga.sendBatch([
      reserve(orderId, [{ sku, quantity: 2 }], messageId),
      command(M.CommitStock, { orderId }, { tenantId, messageId: commitId }),
    ]);
    await saga.replyTo(commitId);

    expect(saga.replies.filter((reply) => reply.envelope.causationId === messageId)).toHaveLength(
      1,
    );
    expect(await product(sku)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('answers a repeated ReserveStock (new message id) with its first outcome, moving nothing', async () => {
    const sku = await stocked(3, 500);
    const orderId = randomUUID();
    const first = await saga.send(reserve(orderId, [{ sku, quantity: 2 }]));
    const firstReply = await saga.replyTo(first);
    await upsert({ sku, stock: 3, priceCents: 900 }); // a price change in between
    const second = await saga.send(reserve(orderId, [{ sku, quantity: 2 }]));
    const secondReply = await saga.replyTo(second);

    expect(secondReply.envelope.type).toBe(M.StockReserved.typeName);
    expect(M.StockReserved.decode(secondReply.payload)).toEqual(
      M.StockReserved.decode(firstReply.payload),
    );
    expect(M.StockReserved.decode(secondReply.payload).lines[0]?.unitPriceCents).toBe(500);
    expect(await product(sku)).toMatchObject({ available: 1, reserved: 2 });

    // A failed reservation keeps failing, even once stock has arrived.
    const failedOrder = randomUUID();
    const failed = await saga.send(reserve(failedOrder, [{ sku, quantity: 3 }]));
    expect((await saga.replyTo(failed)).envelope.type).toBe(M.StockReservationFailed.typeName);
    await upsert({ sku, stock: 10 });
    const retried = await saga.send(reserve(failedOrder, [{ sku, quantity: 3 }]));
    expect((await saga.replyTo(retried)).envelope.type).toBe(M.StockReservationFailed.typeName);
    expect(await product(sku)).toMatchObject({ available: 8, reserved: 2 });
  });

  it('never oversells: 20 concurrent one-unit orders against 5 units reserve exactly 5', async () => {
    const sku = await stocked(5);
    const orders = Array.from({ length: 20 }, () => randomUUID());
    const messageIds = await saga.sendBatch(
      orders.map((orderId) => reserve(orderId, [{ sku, quantity: 1 }])),
    );
    const replies = await Promise.all(messageIds.map((id) => saga.replyTo(id)));

    const types = replies.map((reply) => reply.envelope.type);
    expect(types.filter((type) => type === M.StockReserved.typeName)).toHaveLength(5);
    const failures = replies.filter(
      (reply) => reply.envelope.type === M.StockReservationFailed.typeName,
    );
    expect(failures).toHaveLength(15);
    for (const failure of failures) {
      expect(M.StockReservationFailed.decode(failure.payload).failure).toBe(
        ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK,
      );
    }
    expect(await product(sku)).toMatchObject({ available: 0, reserved: 5 });
    const reserved = await pool.query<{ units: number }>(
      `SELECT coalesce(sum(quantity), 0)::bigint AS units FROM reservations WHERE tenant_id = $1 AND sku = $2`,
      [tenantId, sku],
    );
    expect(reserved.rows[0]?.units).toBe(5);
  });

  it('answers unknown, undecodable and mismatched commands with CommandFailed, and carries on', async () => {
    const orderId = randomUUID();
    const unknownType = {
      ...command(M.ReleaseStock, { orderId }, { tenantId, messageId: randomUUID() }),
      type: 'bulkhead.test.v1.Nonsense',
    };
    const notDecodable = {
      ...command(M.ReleaseStock, { orderId }, { tenantId, messageId: randomUUID() }),
      payload: Uint8Array.of(0xff, 0xff, 0xff),
    };
    // Its order id is not the envelope's correlation id.
    const wrongOrder = {
      ...command(M.ReleaseStock, { orderId: randomUUID() }, { tenantId, messageId: randomUUID() }),
      orderId,
    };
    const releaseId = randomUUID();
    await saga.sendBatch([
      unknownType,
      notDecodable,
      wrongOrder,
      command(M.ReleaseStock, { orderId }, { tenantId, messageId: releaseId }),
    ]);
    expect((await saga.replyTo(releaseId)).envelope.type).toBe(M.StockReleased.typeName);
    for (const failed of [unknownType, notDecodable, wrongOrder]) {
      const answer = await saga.replyTo(failed.messageId!);
      expect(answer.envelope).toMatchObject({
        type: M.CommandFailed.typeName,
        correlationId: orderId,
      });
      expect(M.CommandFailed.decode(answer.payload)).toMatchObject({
        orderId,
        commandType: failed.type,
        failure: 'permanent',
      });
    }
  });

  it('a release before its reservation is remembered: the late ReserveStock reserves nothing', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const release = await saga.replyTo(
      await saga.send(command(M.ReleaseStock, { orderId }, { tenantId })),
    );
    expect(release.envelope.type).toBe(M.StockReleased.typeName);
    const late = await saga.replyTo(await saga.send(reserve(orderId, [{ sku, quantity: 2 }])));
    expect(late.envelope.type).toBe(M.StockReservationFailed.typeName);
    expect(M.StockReservationFailed.decode(late.payload).failure).toBe(
      ReservationFailure.RESERVATION_FAILURE_CANCELLED,
    );
    expect(await product(sku)).toMatchObject({ available: 5, reserved: 0 });
  });

  it('refuses to commit what was released: CommandFailed, stock unchanged', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    await saga.replyTo(await saga.send(reserve(orderId, [{ sku, quantity: 2 }])));
    await saga.replyTo(await saga.send(command(M.ReleaseStock, { orderId }, { tenantId })));
    const commit = await saga.replyTo(
      await saga.send(command(M.CommitStock, { orderId }, { tenantId })),
    );
    expect(commit.envelope.type).toBe(M.CommandFailed.typeName);
    expect(M.CommandFailed.decode(commit.payload).error).toContain('released');
    expect(await product(sku)).toMatchObject({ available: 5, reserved: 0 });
  });
});

describe('InventoryService gRPC', () => {
  it('creates, replaces and gets a product; stock sets the units on hand', async () => {
    const sku = `SKU-${randomUUID().slice(0, 8)}`;
    expect(await upsert({ sku, name: 'Widget', priceCents: 1999, stock: 7 })).toEqual({
      tenantId,
      sku,
      name: 'Widget',
      priceCents: 1999,
      available: 7,
      reserved: 0,
    });
    const orderId = randomUUID();
    const reserved = await saga.send(reserve(orderId, [{ sku, quantity: 3 }]));
    await saga.replyTo(reserved);

    // 10 on hand, 3 of them reserved.
    expect(await upsert({ sku, name: 'Widget 2', priceCents: 2999, stock: 10 })).toMatchObject({
      name: 'Widget 2',
      priceCents: 2999,
      available: 7,
      reserved: 3,
    });
    expect(await product(sku)).toMatchObject({ available: 7, reserved: 3 });
  });

  it('refuses stock below the reserved units with FAILED_PRECONDITION and changes nothing', async () => {
    const sku = await stocked(5);
    const orderId = randomUUID();
    const reserved = await saga.send(reserve(orderId, [{ sku, quantity: 4 }]));
    await saga.replyTo(reserved);

    const error = await grpcError(upsert({ sku, stock: 3, name: 'Renamed' }));
    expect(error.code).toBe(Status.FAILED_PRECONDITION);
    expect(error.reason).toBe('stock_below_reserved');
    expect(await product(sku)).toMatchObject({ name: 'A product', available: 1, reserved: 4 });
    expect(await upsert({ sku, stock: 4 })).toMatchObject({ available: 0, reserved: 4 });
  });

  it.each([
    ['tenant_id', { tenantId: '' }],
    ['sku', { sku: 'bad sku!' }],
    ['name', { name: '' }],
    ['price_cents', { priceCents: -1 }],
    ['stock', { stock: 1_000_000_001 }],
  ])('rejects an invalid %s with INVALID_ARGUMENT', async (field, change) => {
    const error = await grpcError(upsert({ sku: 'valid-sku', stock: 1, ...change }));
    expect(error.code).toBe(Status.INVALID_ARGUMENT);
    expect(error.message).toContain(field);
  });

  it('returns NOT_FOUND for an unknown sku and for another tenant’s product', async () => {
    const sku = await stocked(1);
    expect((await grpcError(product('NO-SUCH-SKU'))).code).toBe(Status.NOT_FOUND);
    expect((await grpcError(product(sku, 'tenant-b'))).code).toBe(Status.NOT_FOUND);
  });
});
