import { describe, expect, it } from 'vitest';
import {
  check,
  emptyCellState,
  parseHistory,
  type CellState,
  type HistoryEvent,
  type Invariant,
  type OrderRow,
} from '../src/index.js';

/**
 * Small synthetic histories and database states: a consistent baseline (one CONFIRMED order, one
 * REJECTED out of stock, one declined and compensated), then one defect per test, each of which
 * must be reported under its invariant, naming the order, SKU or key.
 */
const T = 'tenant-a';
const CELL = 'cell-1';
const BOUND = 60_000;
const HEALED = 10_000;

function baseline(): { events: HistoryEvent[]; state: CellState } {
  const events: HistoryEvent[] = [
    {
      type: 'ok',
      f: 'product',
      process: 0,
      at: 1,
      tenant: T,
      cell: CELL,
      sku: 'A',
      stock: 10,
      priceCents: 100,
    },
    {
      type: 'ok',
      f: 'product',
      process: 0,
      at: 2,
      tenant: T,
      cell: CELL,
      sku: 'B',
      stock: 1,
      priceCents: 50,
    },
  ];
  let at = 100;
  const place = (op: number, orderId: string, items: { sku: string; quantity: number }[]) => {
    const base = {
      f: 'place' as const,
      process: op,
      tenant: T,
      cell: CELL,
      op,
      attempt: 1,
      key: `k${op}`,
      customerId: `c${op}`,
    };
    events.push({ ...base, type: 'invoke', at: at++, items, paymentToken: 'tok_visa' });
    events.push({ ...base, type: 'ok', at: at++, orderId, status: 'PENDING', http: 202 });
  };
  const read = (
    op: number,
    orderId: string,
    status: 'PENDING' | 'CONFIRMED' | 'REJECTED',
    when: number,
  ) => {
    const base = { f: 'read' as const, process: 100 + op, tenant: T, cell: CELL, op, orderId };
    events.push({ ...base, type: 'invoke', at: when });
    events.push({ ...base, type: 'ok', at: when + 1, status });
  };
  place(1, 'o1', [{ sku: 'A', quantity: 2 }]);
  place(2, 'o2', [{ sku: 'B', quantity: 5 }]);
  place(3, 'o3', [{ sku: 'A', quantity: 1 }]);
  read(1, 'o1', 'PENDING', 200);
  read(1, 'o1', 'CONFIRMED', 300);
  read(2, 'o2', 'REJECTED', 310);
  read(3, 'o3', 'REJECTED', 320);
  read(1, 'o1', 'CONFIRMED', 400);
  events.push({
    type: 'info',
    f: 'nemesis',
    process: 0,
    at: 500,
    phase: 'start',
    kind: 'kill',
    fault: 0,
  });
  events.push({ type: 'info', f: 'nemesis', process: 0, at: HEALED, phase: 'healed' });

  const order = (
    id: string,
    customerId: string,
    status: OrderRow['status'],
    items: OrderRow['items'],
    reason: string | null,
  ): OrderRow => ({
    id,
    tenantId: T,
    customerId,
    status,
    reason,
    items,
    totalCents: items.reduce((n, i) => n + i.quantity * i.unitPriceCents, 0),
  });
  const state: CellState = {
    ...emptyCellState(CELL),
    orders: [
      order('o1', 'c1', 'CONFIRMED', [{ sku: 'A', quantity: 2, unitPriceCents: 100 }], null),
      order('o2', 'c2', 'REJECTED', [{ sku: 'B', quantity: 5, unitPriceCents: 0 }], 'out_of_stock'),
      order(
        'o3',
        'c3',
        'REJECTED',
        [{ sku: 'A', quantity: 1, unitPriceCents: 100 }],
        'payment_declined',
      ),
    ],
    sagas: [],
    idempotencyKeys: [
      { tenantId: T, key: 'k1', orderId: 'o1' },
      { tenantId: T, key: 'k2', orderId: 'o2' },
      { tenantId: T, key: 'k3', orderId: 'o3' },
    ],
    products: [
      { tenantId: T, sku: 'A', available: 8, reserved: 0 },
      { tenantId: T, sku: 'B', available: 1, reserved: 0 },
    ],
    reservations: [
      { tenantId: T, orderId: 'o1', sku: 'A', quantity: 2, status: 'COMMITTED' },
      { tenantId: T, orderId: 'o3', sku: 'A', quantity: 1, status: 'RELEASED' },
    ],
    payments: [
      { tenantId: T, orderId: 'o1', amountCents: 200, status: 'CAPTURED' },
      { tenantId: T, orderId: 'o3', amountCents: 100, status: 'DECLINED' },
    ],
  };
  return { events, state };
}

const run = (events: HistoryEvent[], state: CellState) =>
  check(events, [state], { terminalBoundMs: BOUND });
const invariants = (events: HistoryEvent[], state: CellState): Invariant[] =>
  run(events, state).violations.map((v) => v.invariant);

describe('consistency checker', () => {
  it('finds nothing wrong with a consistent run', () => {
    const { events, state } = baseline();
    const report = run(events, state);
    expect(report.violations).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.stats).toMatchObject({
      operations: 3,
      accepted: 3,
      orders: { total: 3, confirmed: 1, rejected: 2, pending: 0 },
      rejectedByReason: { out_of_stock: 1, payment_declined: 1 },
      faultsByKind: { kill: 1 },
      healedAt: HEALED,
    });
  });

  it('accepts the new rejection reasons and a void remembered before its authorization', () => {
    const { events, state } = baseline();
    state.orders[2]!.reason = 'timeout';
    state.payments[1] = { tenantId: T, orderId: 'o3', amountCents: 0, status: 'VOIDED' };
    state.orders[1]!.reason = 'processing_failed';
    expect(invariants(events, state)).toEqual([]);
  });

  it('reports an accepted order that is still PENDING at quiescence', () => {
    const { events, state } = baseline();
    state.orders[0]!.status = 'PENDING';
    state.reservations[0]!.status = 'RESERVED';
    state.products[0] = { tenantId: T, sku: 'A', available: 8, reserved: 2 };
    state.payments[0]!.status = 'AUTHORIZED';
    state.sagas.push({
      orderId: 'o1',
      status: 'RUNNING',
      step: 'commitStock',
      failureReason: null,
    });
    const report = run(
      events.filter((e) => !(e.f === 'read' && e.orderId === 'o1' && e.at >= 300)),
      state,
    );
    const v = report.violations.find((x) => x.invariant === 'order-terminal');
    expect(v).toMatchObject({ orderId: 'o1', key: 'k1' });
    expect(v?.evidence.saga).toMatchObject({ step: 'commitStock' });
  });

  it('reports an order first read terminal later than the bound after the faults stopped', () => {
    const { events, state } = baseline();
    for (const e of events) if (e.f === 'read' && e.orderId === 'o2') e.at += HEALED + BOUND;
    const report = run(events, state);
    expect(report.violations).toHaveLength(1);
    expect(report.violations[0]).toMatchObject({ invariant: 'order-terminal', orderId: 'o2' });
  });

  it('reports stock that is not conserved (units lost or created)', () => {
    const { events, state } = baseline();
    state.products[0]!.available = 7;
    const report = run(events, state);
    expect(report.violations).toHaveLength(1);
    expect(report.violations[0]).toMatchObject({
      invariant: 'stock-conserved',
      sku: 'A',
      evidence: { initial: 10, available: 7, reserved: 0, confirmedUnits: 2 },
    });
  });

  it('reports stock still reserved at quiescence, naming the orders that hold it', () => {
    const { events, state } = baseline();
    state.products[0] = { tenantId: T, sku: 'A', available: 7, reserved: 1 };
    state.reservations[1]!.status = 'RESERVED';
    const report = run(events, state);
    expect(report.violations.map((v) => v.invariant)).toEqual(['stock-released']);
    expect(report.violations[0]?.evidence.holders).toEqual([
      expect.objectContaining({ orderId: 'o3', orderStatus: 'REJECTED', quantity: 1 }),
    ]);
  });

  it('reports negative stock', () => {
    const { events, state } = baseline();
    state.products[1] = { tenantId: T, sku: 'B', available: -1, reserved: 2 };
    state.reservations.push({
      tenantId: T,
      orderId: 'o2',
      sku: 'B',
      quantity: 2,
      status: 'RESERVED',
    });
    expect(invariants(events, state)).toContain('stock-non-negative');
  });

  it('reports a CONFIRMED order whose stock was not committed, and a REJECTED one whose was', () => {
    const { events, state } = baseline();
    state.reservations[0]!.status = 'RELEASED';
    state.reservations[1]!.status = 'COMMITTED';
    const found = run(events, state).violations.filter(
      (v) => v.invariant === 'reservation-matches-order',
    );
    expect(found.map((v) => v.orderId).sort()).toEqual(['o1', 'o3']);
  });

  it('reports two captures of one order', () => {
    const { events, state } = baseline();
    state.payments.push({ tenantId: T, orderId: 'o1', amountCents: 200, status: 'CAPTURED' });
    const found = run(events, state).violations;
    expect(found.map((v) => v.invariant)).toContain('single-capture');
    expect(found.find((v) => v.invariant === 'single-capture')?.orderId).toBe('o1');
    // …and the amounts no longer match the CONFIRMED totals.
    expect(found.map((v) => v.invariant)).toContain('capture-matches-confirmed');
  });

  it('reports a CONFIRMED order captured for another amount, or not at all', () => {
    const { events, state } = baseline();
    state.payments[0]!.amountCents = 150;
    expect(invariants(events, state)).toEqual([
      'capture-matches-confirmed',
      'capture-matches-confirmed',
    ]);
    state.payments.splice(0, 1);
    expect(invariants(events, state)).toContain('capture-matches-confirmed');
  });

  it('reports a capture for a REJECTED order', () => {
    const { events, state } = baseline();
    state.payments[1] = { tenantId: T, orderId: 'o3', amountCents: 100, status: 'CAPTURED' };
    const found = run(events, state).violations;
    expect(found.find((v) => v.invariant === 'no-capture-for-rejected')?.orderId).toBe('o3');
  });

  it('reports a REJECTED order whose authorization was never voided', () => {
    const { events, state } = baseline();
    state.payments[1] = { tenantId: T, orderId: 'o3', amountCents: 100, status: 'AUTHORIZED' };
    expect(run(events, state).violations).toEqual([
      expect.objectContaining({ invariant: 'authorization-released', orderId: 'o3' }),
    ]);
  });

  it('reports one Idempotency-Key that created two orders (its record lost between retries)', () => {
    const { events, state } = baseline();
    // The first attempt timed out at the client; the retry created a second order.
    const i = events.findIndex((e) => e.f === 'place' && e.type === 'ok' && e.op === 2);
    events[i] = {
      f: 'place',
      type: 'info',
      process: 2,
      at: events[i]!.at,
      tenant: T,
      cell: CELL,
      op: 2,
      attempt: 1,
      key: 'k2',
      customerId: 'c2',
      error: 'timeout',
    };
    events.push(
      {
        f: 'place',
        type: 'invoke',
        process: 2,
        at: 600,
        tenant: T,
        cell: CELL,
        op: 2,
        attempt: 2,
        key: 'k2',
        customerId: 'c2',
        items: [{ sku: 'B', quantity: 5 }],
        paymentToken: 'tok_visa',
      },
      {
        f: 'place',
        type: 'ok',
        process: 2,
        at: 601,
        tenant: T,
        cell: CELL,
        op: 2,
        attempt: 2,
        key: 'k2',
        customerId: 'c2',
        orderId: 'o2b',
        status: 'PENDING',
        http: 202,
      },
    );
    state.orders.push({ ...state.orders[1]!, id: 'o2b' });
    state.idempotencyKeys[1] = { tenantId: T, key: 'k2', orderId: 'o2b' };
    const found = run(events, state).violations.filter((v) => v.invariant === 'one-order-per-key');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ key: 'k2', evidence: { orderIds: ['o2', 'o2b'] } });
  });

  it('reports a key answered with two different order ids', () => {
    const { events, state } = baseline();
    events.push(
      {
        f: 'place',
        type: 'invoke',
        process: 1,
        at: 700,
        tenant: T,
        cell: CELL,
        op: 1,
        attempt: 2,
        key: 'k1',
        customerId: 'c1',
        items: [{ sku: 'A', quantity: 2 }],
        paymentToken: 'tok_visa',
      },
      {
        f: 'place',
        type: 'ok',
        process: 1,
        at: 701,
        tenant: T,
        cell: CELL,
        op: 1,
        attempt: 2,
        key: 'k1',
        customerId: 'c1',
        orderId: 'o3',
        status: 'PENDING',
        http: 202,
      },
    );
    const found = run(events, state).violations;
    expect(found.map((v) => v.invariant)).toEqual([
      'one-order-per-key',
      'acknowledged-order-exists',
    ]);
  });

  it('reports an order that no client created', () => {
    const { events, state } = baseline();
    state.orders.push({ ...state.orders[1]!, id: 'ghost', customerId: 'nobody' });
    expect(run(events, state).violations).toEqual([
      expect.objectContaining({ invariant: 'order-created-by-client', orderId: 'ghost' }),
    ]);
  });

  it('reports an order created by an operation whose every attempt was refused', () => {
    const { events, state } = baseline();
    const i = events.findIndex((e) => e.f === 'place' && e.type === 'ok' && e.op === 3);
    events[i] = {
      f: 'place',
      type: 'fail',
      process: 3,
      at: events[i]!.at,
      tenant: T,
      cell: CELL,
      op: 3,
      attempt: 1,
      key: 'k3',
      customerId: 'c3',
      http: 400,
      error: 'bad request',
    };
    expect(run(events, state).violations).toEqual([
      expect.objectContaining({ invariant: 'order-created-by-client', key: 'k3', orderId: 'o3' }),
    ]);
  });

  it('reports a reservation or a payment for an order that does not exist', () => {
    const { events, state } = baseline();
    state.reservations.push({
      tenantId: T,
      orderId: 'lost',
      sku: 'B',
      quantity: 1,
      status: 'RELEASED',
    });
    state.payments.push({ tenantId: T, orderId: 'lost', amountCents: 0, status: 'VOIDED' });
    const found = run(events, state).violations;
    expect(found.map((v) => [v.invariant, v.orderId])).toEqual([
      ['effect-without-order', 'lost'],
      ['effect-without-order', 'lost'],
    ]);
  });

  it('reports an acknowledged order id that does not exist', () => {
    const { events, state } = baseline();
    state.orders.splice(1, 1);
    const found = run(events, state).violations;
    expect(found).toContainEqual(
      expect.objectContaining({ invariant: 'acknowledged-order-exists', orderId: 'o2', key: 'k2' }),
    );
  });

  it('reports a CONFIRMED order read later as something else, and REJECTED read later CONFIRMED', () => {
    const { events, state } = baseline();
    const base = { f: 'read' as const, tenant: T, cell: CELL };
    events.push(
      { ...base, type: 'invoke', process: 201, at: 800, op: 1, orderId: 'o1' },
      { ...base, type: 'ok', process: 201, at: 801, op: 1, orderId: 'o1', status: 'PENDING' },
      { ...base, type: 'invoke', process: 202, at: 802, op: 2, orderId: 'o2' },
      { ...base, type: 'ok', process: 202, at: 803, op: 2, orderId: 'o2', status: 'CONFIRMED' },
    );
    const found = run(events, state).violations.filter(
      (v) => v.invariant === 'history-explainable',
    );
    expect(found.map((v) => v.orderId)).toEqual(['o1', 'o2']);
  });

  it('does not order reads that overlap in time', () => {
    const { events, state } = baseline();
    const base = { f: 'read' as const, tenant: T, cell: CELL, op: 1, orderId: 'o1' };
    // Invoked before the CONFIRMED read completed: it may have been served first.
    events.push(
      { ...base, type: 'invoke', process: 301, at: 300 },
      { ...base, type: 'ok', process: 301, at: 305, status: 'PENDING' },
    );
    expect(invariants(events, state)).toEqual([]);
  });

  it('reports a terminal read that the final state contradicts', () => {
    const { events, state } = baseline();
    state.orders[1]!.status = 'CONFIRMED';
    expect(invariants(events, state)).toContain('history-explainable');
  });

  it('parses its own history lines and refuses malformed ones', () => {
    const { events } = baseline();
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    expect(parseHistory(text)).toEqual(events);
    expect(() => parseHistory('{"type":"ok","f":"place"}\n')).toThrow(/line 1/);
    expect(() => parseHistory('nope')).toThrow(/line 1: not JSON/);
  });
});
