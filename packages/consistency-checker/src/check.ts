import {
  isTerminal,
  operations,
  type HistoryEvent,
  type Operation,
  type PlaceEvent,
  type ReadEvent,
} from './history.js';
import type { CellState, OrderRow, PaymentRow, ReservationRow } from './state.js';

/** The invariants, each named in every violation it finds. */
export const INVARIANTS = [
  /** Every order answered 202 (and every order that exists) is terminal within a bound after the faults stop. */
  'order-terminal',
  /** Per SKU: initial stock = available + reserved + units in CONFIRMED orders. */
  'stock-conserved',
  /** Per SKU: nothing reserved at quiescence (ended sagas hold no stock). */
  'stock-released',
  /** Per SKU: available and reserved never negative. */
  'stock-non-negative',
  /** A CONFIRMED order's lines are committed, a REJECTED order's are not. */
  'reservation-matches-order',
  /** Per order at most one payment, at most one capture. */
  'single-capture',
  /** A CONFIRMED order is captured for its total; captured amounts = totals of CONFIRMED orders. */
  'capture-matches-confirmed',
  /** Nothing captured for a REJECTED order. */
  'no-capture-for-rejected',
  /** A REJECTED order holds no authorization at quiescence (it was voided). */
  'authorization-released',
  /** One Idempotency-Key (one logical operation) never creates two orders, nor answers two ids. */
  'one-order-per-key',
  /** No order exists that no client created (nor one the client was told was refused). */
  'order-created-by-client',
  /** No reservation or payment exists for an order that does not. */
  'effect-without-order',
  /** An order id the client was answered exists, for that operation. */
  'acknowledged-order-exists',
  /** Reads are explainable: CONFIRMED never later reads otherwise, REJECTED never later CONFIRMED. */
  'history-explainable',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: Invariant;
  message: string;
  tenant?: string;
  orderId?: string;
  sku?: string;
  key?: string;
  evidence: Record<string, unknown>;
}

export interface CheckOptions {
  /** How long after the faults stop (the nemesis `healed` line) an order may take to end. */
  terminalBoundMs: number;
}

export interface CheckStats {
  operations: number;
  attempts: number;
  accepted: number;
  /** Logical operations whose outcome the client never learnt (only `info` or no completion). */
  indeterminate: number;
  refused: number;
  orders: { total: number; confirmed: number; rejected: number; pending: number };
  rejectedByReason: Record<string, number>;
  reads: number;
  faultsByKind: Record<string, number>;
  healedAt: number | null;
}

export interface CheckReport {
  valid: boolean;
  violations: Violation[];
  violationsByInvariant: Partial<Record<Invariant, number>>;
  stats: CheckStats;
}

interface LogicalOperation {
  op: number;
  tenant: string;
  cell: string;
  key: string;
  customerId: string;
  attempts: Operation<PlaceEvent>[];
}

const scoped = (tenant: string, id: string) => `${tenant}\u0000${id}`;

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

const attemptSummary = (a: Operation<PlaceEvent>) => ({
  attempt: a.invoke.attempt,
  at: a.invoke.at,
  outcome: a.completion?.type ?? 'none',
  ...(a.completion?.type === 'ok' ? { orderId: a.completion.orderId } : {}),
  ...(a.completion && a.completion.type !== 'ok' ? { error: a.completion.error } : {}),
  ...(a.completion?.http === undefined ? {} : { http: a.completion.http }),
});

const orderEvidence = (order: OrderRow) => ({
  status: order.status,
  reason: order.reason,
  customerId: order.customerId,
  totalCents: order.totalCents,
  items: order.items,
});

/** Checks a history against the cells' final state; returns every violation found. */
export function check(
  events: readonly HistoryEvent[],
  cells: readonly CellState[],
  options: CheckOptions,
): CheckReport {
  const violations: Violation[] = [];
  const report = (v: Violation) => violations.push(v);
  const { places, reads } = operations(events);

  const products = events.filter((e) => e.f === 'product');
  const tenants = new Set([
    ...products.map((p) => p.tenant),
    ...places.map((p) => p.invoke.tenant),
  ]);
  const nemesis = events.filter((e) => e.f === 'nemesis');
  const healed = nemesis.filter((e) => e.phase === 'healed').at(-1);
  const healedAt = healed?.at ?? null;

  // The database, restricted to the history's tenants.
  const orders = cells.flatMap((c) => c.orders).filter((o) => tenants.has(o.tenantId));
  const ordersById = new Map(orders.map((o) => [o.id, o]));
  const ordersByCustomer = groupBy(orders, (o) => scoped(o.tenantId, o.customerId));
  const sagasById = new Map(cells.flatMap((c) => c.sagas).map((s) => [s.orderId, s]));
  const reservations = cells.flatMap((c) => c.reservations).filter((r) => tenants.has(r.tenantId));
  const reservationsByOrder = groupBy(reservations, (r) => scoped(r.tenantId, r.orderId));
  const payments = cells.flatMap((c) => c.payments).filter((p) => tenants.has(p.tenantId));
  const paymentsByOrder = groupBy(payments, (p) => scoped(p.tenantId, p.orderId));
  const keyRecords = new Map(
    cells.flatMap((c) => c.idempotencyKeys).map((k) => [scoped(k.tenantId, k.key), k]),
  );

  // Logical operations (one Idempotency-Key, one customerId each).
  const logical = new Map<number, LogicalOperation>();
  for (const attempt of places) {
    const { op, tenant, cell, key, customerId } = attempt.invoke;
    const known = logical.get(op);
    if (known) known.attempts.push(attempt);
    else logical.set(op, { op, tenant, cell, key, customerId, attempts: [attempt] });
  }
  const opByCustomer = new Map(
    [...logical.values()].map((l) => [scoped(l.tenant, l.customerId), l]),
  );

  const readsByOrder = groupBy(
    reads.filter((r) => r.completion?.type === 'ok'),
    (r) => r.invoke.orderId,
  ) as Map<string, (Operation<ReadEvent> & { completion: ReadEvent & { type: 'ok' } })[]>;

  let accepted = 0;
  let indeterminate = 0;
  let refused = 0;
  for (const l of logical.values()) {
    const created = ordersByCustomer.get(scoped(l.tenant, l.customerId)) ?? [];
    const answered = [
      ...new Set(
        l.attempts.flatMap((a) => (a.completion?.type === 'ok' ? [a.completion.orderId] : [])),
      ),
    ];
    const outcomes = new Set(l.attempts.map((a) => a.completion?.type ?? 'none'));
    if (outcomes.has('ok')) accepted += 1;
    else if (outcomes.has('info') || outcomes.has('none')) indeterminate += 1;
    else refused += 1;
    const where = { tenant: l.tenant, key: l.key };
    const attempts = l.attempts.map(attemptSummary);

    if (created.length > 1) {
      report({
        invariant: 'one-order-per-key',
        message: `Idempotency-Key ${l.key} created ${created.length} orders`,
        ...where,
        evidence: { orderIds: created.map((o) => o.id), customerId: l.customerId, attempts },
      });
    }
    if (answered.length > 1) {
      report({
        invariant: 'one-order-per-key',
        message: `Idempotency-Key ${l.key} was answered with ${answered.length} order ids`,
        ...where,
        evidence: { answered, attempts },
      });
    }
    const record = keyRecords.get(scoped(l.tenant, l.key));
    if (record?.orderId && created.length > 0 && !created.some((o) => o.id === record.orderId)) {
      report({
        invariant: 'one-order-per-key',
        message: `the record of Idempotency-Key ${l.key} names order ${record.orderId}, which the operation did not create`,
        ...where,
        evidence: { recorded: record.orderId, created: created.map((o) => o.id) },
      });
    }
    for (const id of answered) {
      const order = ordersById.get(id);
      if (!order || order.customerId !== l.customerId || order.tenantId !== l.tenant) {
        report({
          invariant: 'acknowledged-order-exists',
          message: order
            ? `order ${id}, answered to Idempotency-Key ${l.key}, belongs to another operation`
            : `order ${id} was answered 202 to Idempotency-Key ${l.key} but does not exist`,
          ...where,
          orderId: id,
          evidence: { attempts, ...(order ? { order: orderEvidence(order) } : {}) },
        });
      }
    }
    if (!outcomes.has('ok') && !outcomes.has('info') && !outcomes.has('none') && created.length) {
      report({
        invariant: 'order-created-by-client',
        message: `every attempt of Idempotency-Key ${l.key} was refused, yet it created an order`,
        ...where,
        orderId: created[0]!.id,
        evidence: { orderIds: created.map((o) => o.id), attempts },
      });
    }
  }

  // Every order: made by a client, terminal in time, its reads explainable.
  for (const order of orders) {
    const where = { tenant: order.tenantId, orderId: order.id };
    const op = opByCustomer.get(scoped(order.tenantId, order.customerId));
    if (!op) {
      report({
        invariant: 'order-created-by-client',
        message: `order ${order.id} (customer ${order.customerId}) matches no client operation`,
        ...where,
        evidence: { order: orderEvidence(order) },
      });
    }
    const orderReads = (readsByOrder.get(order.id) ?? []).sort((a, b) => a.invoke.at - b.invoke.at);
    if (!isTerminal(order.status)) {
      report({
        invariant: 'order-terminal',
        message: `order ${order.id} is still PENDING at quiescence`,
        ...where,
        ...(op ? { key: op.key } : {}),
        evidence: {
          saga: sagasById.get(order.id) ?? null,
          healedAt,
          lastRead: orderReads.at(-1)?.completion.at ?? null,
          order: orderEvidence(order),
        },
      });
    }
    const firstTerminal = orderReads
      .filter((r) => isTerminal(r.completion.status))
      .sort((a, b) => a.completion.at - b.completion.at)[0];
    if (
      firstTerminal &&
      healedAt !== null &&
      firstTerminal.completion.at > healedAt + options.terminalBoundMs
    ) {
      report({
        invariant: 'order-terminal',
        message: `order ${order.id} was first read ${firstTerminal.completion.status} ${firstTerminal.completion.at - healedAt} ms after the faults stopped (bound ${options.terminalBoundMs} ms)`,
        ...where,
        evidence: { healedAt, readAt: firstTerminal.completion.at },
      });
    }
    if (firstTerminal) {
      const settled = firstTerminal.completion;
      for (const later of orderReads) {
        if (later.invoke.at <= settled.at || later.completion.status === settled.status) continue;
        report({
          invariant: 'history-explainable',
          message: `order ${order.id} read ${settled.status} at ${settled.at}, then ${later.completion.status} at ${later.completion.at}`,
          ...where,
          evidence: { first: settled, later: later.completion },
        });
      }
      if (order.status !== settled.status) {
        report({
          invariant: 'history-explainable',
          message: `order ${order.id} was read ${settled.status} but ends ${order.status}`,
          ...where,
          evidence: { read: settled, order: orderEvidence(order) },
        });
      }
    }

    // Its effects: stock lines and the payment.
    const lines = reservationsByOrder.get(scoped(order.tenantId, order.id)) ?? [];
    checkReservations(order, lines, report);
    checkPayment(order, paymentsByOrder.get(scoped(order.tenantId, order.id)) ?? [], report);
  }

  // Effects of orders that do not exist.
  for (const [key, rows] of [...reservationsByOrder, ...paymentsByOrder] as [
    string,
    (ReservationRow | PaymentRow)[],
  ][]) {
    const first = rows[0]!;
    const order = ordersById.get(first.orderId);
    if (order && scoped(order.tenantId, order.id) === key) continue;
    report({
      invariant: 'effect-without-order',
      message: `${'sku' in first ? 'stock is reserved' : 'a payment exists'} for order ${first.orderId}, which does not exist`,
      tenant: first.tenantId,
      orderId: first.orderId,
      evidence: { rows },
    });
  }

  // Stock per SKU.
  const dbProducts = new Map(
    cells.flatMap((c) => c.products).map((p) => [scoped(p.tenantId, p.sku), p]),
  );
  const confirmedUnits = new Map<string, number>();
  for (const order of orders) {
    if (order.status !== 'CONFIRMED') continue;
    for (const item of order.items) {
      const key = scoped(order.tenantId, item.sku);
      confirmedUnits.set(key, (confirmedUnits.get(key) ?? 0) + item.quantity);
    }
  }
  const reservationsBySku = groupBy(reservations, (r) => scoped(r.tenantId, r.sku));
  for (const product of products) {
    const key = scoped(product.tenant, product.sku);
    const where = { tenant: product.tenant, sku: product.sku };
    const row = dbProducts.get(key);
    if (!row) {
      report({
        invariant: 'stock-conserved',
        message: `product ${product.sku} was created with stock ${product.stock} but does not exist`,
        ...where,
        evidence: { initial: product.stock },
      });
      continue;
    }
    const confirmed = confirmedUnits.get(key) ?? 0;
    const lines = reservationsBySku.get(key) ?? [];
    const unitsBy = (status: ReservationRow['status']) =>
      lines.filter((l) => l.status === status).reduce((n, l) => n + l.quantity, 0);
    const evidence = {
      initial: product.stock,
      available: row.available,
      reserved: row.reserved,
      confirmedUnits: confirmed,
      committedUnits: unitsBy('COMMITTED'),
      reservedUnits: unitsBy('RESERVED'),
    };
    if (row.available < 0 || row.reserved < 0) {
      report({
        invariant: 'stock-non-negative',
        message: `product ${product.sku}: available ${row.available}, reserved ${row.reserved}`,
        ...where,
        evidence,
      });
    }
    if (product.stock !== row.available + row.reserved + confirmed) {
      report({
        invariant: 'stock-conserved',
        message: `product ${product.sku}: initial ${product.stock} ≠ available ${row.available} + reserved ${row.reserved} + confirmed ${confirmed}`,
        ...where,
        evidence,
      });
    }
    if (row.reserved !== 0) {
      const holders = lines
        .filter((l) => l.status === 'RESERVED')
        .map((l) => ({
          orderId: l.orderId,
          quantity: l.quantity,
          orderStatus: ordersById.get(l.orderId)?.status ?? 'missing',
          saga: sagasById.get(l.orderId) ?? null,
        }));
      report({
        invariant: 'stock-released',
        message: `product ${product.sku}: ${row.reserved} units still reserved at quiescence`,
        ...where,
        evidence: { ...evidence, holders },
      });
    }
  }

  // Captured amounts = totals of CONFIRMED orders, per tenant.
  for (const tenant of tenants) {
    const confirmedTotal = orders
      .filter((o) => o.tenantId === tenant && o.status === 'CONFIRMED')
      .reduce((n, o) => n + o.totalCents, 0);
    const captured = payments
      .filter((p) => p.tenantId === tenant && p.status === 'CAPTURED')
      .reduce((n, p) => n + p.amountCents, 0);
    if (captured !== confirmedTotal) {
      report({
        invariant: 'capture-matches-confirmed',
        message: `tenant ${tenant}: captured ${captured} cents, CONFIRMED orders total ${confirmedTotal}`,
        tenant,
        evidence: { captured, confirmedTotal },
      });
    }
  }

  const rejectedByReason: Record<string, number> = {};
  for (const o of orders) {
    if (o.status === 'REJECTED') {
      const reason = o.reason ?? 'none';
      rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + 1;
    }
  }
  const faultsByKind: Record<string, number> = {};
  for (const e of nemesis) {
    if (e.phase === 'start' && e.kind) faultsByKind[e.kind] = (faultsByKind[e.kind] ?? 0) + 1;
  }
  const violationsByInvariant: Partial<Record<Invariant, number>> = {};
  for (const v of violations) {
    violationsByInvariant[v.invariant] = (violationsByInvariant[v.invariant] ?? 0) + 1;
  }
  return {
    valid: violations.length === 0,
    violations,
    violationsByInvariant,
    stats: {
      operations: logical.size,
      attempts: places.length,
      accepted,
      indeterminate,
      refused,
      orders: {
        total: orders.length,
        confirmed: orders.filter((o) => o.status === 'CONFIRMED').length,
        rejected: orders.filter((o) => o.status === 'REJECTED').length,
        pending: orders.filter((o) => o.status === 'PENDING').length,
      },
      rejectedByReason,
      reads: reads.length,
      faultsByKind,
      healedAt,
    },
  };
}

function checkReservations(
  order: OrderRow,
  lines: ReservationRow[],
  report: (v: Violation) => void,
): void {
  const where = { tenant: order.tenantId, orderId: order.id };
  if (order.status === 'CONFIRMED') {
    for (const item of order.items) {
      const line = lines.find((l) => l.sku === item.sku);
      if (line?.status !== 'COMMITTED' || line.quantity !== item.quantity) {
        report({
          invariant: 'reservation-matches-order',
          message: `CONFIRMED order ${order.id}: its ${item.sku} line (${item.quantity}) is not committed`,
          ...where,
          sku: item.sku,
          evidence: { item, reservation: line ?? null },
        });
      }
    }
  }
  if (order.status === 'REJECTED') {
    for (const line of lines.filter((l) => l.status === 'COMMITTED')) {
      report({
        invariant: 'reservation-matches-order',
        message: `REJECTED order ${order.id} committed ${line.quantity} of ${line.sku}`,
        ...where,
        sku: line.sku,
        evidence: { reservation: line, order: orderEvidence(order) },
      });
    }
  }
}

function checkPayment(order: OrderRow, rows: PaymentRow[], report: (v: Violation) => void): void {
  const where = { tenant: order.tenantId, orderId: order.id };
  const captured = rows.filter((p) => p.status === 'CAPTURED');
  if (rows.length > 1 || captured.length > 1) {
    report({
      invariant: 'single-capture',
      message: `order ${order.id} has ${rows.length} payments, ${captured.length} captured`,
      ...where,
      evidence: { payments: rows },
    });
  }
  if (order.status === 'CONFIRMED') {
    const amount = captured.reduce((n, p) => n + p.amountCents, 0);
    if (amount !== order.totalCents) {
      report({
        invariant: 'capture-matches-confirmed',
        message: `CONFIRMED order ${order.id} (total ${order.totalCents}) has ${amount} cents captured`,
        ...where,
        evidence: { payments: rows, order: orderEvidence(order) },
      });
    }
  }
  if (order.status === 'REJECTED') {
    if (captured.length > 0) {
      report({
        invariant: 'no-capture-for-rejected',
        message: `REJECTED order ${order.id} (${order.reason ?? 'no reason'}) has a captured payment`,
        ...where,
        evidence: { payments: rows, order: orderEvidence(order) },
      });
    }
    if (rows.some((p) => p.status === 'AUTHORIZED')) {
      report({
        invariant: 'authorization-released',
        message: `REJECTED order ${order.id} (${order.reason ?? 'no reason'}) still holds an authorization`,
        ...where,
        evidence: { payments: rows, order: orderEvidence(order) },
      });
    }
  }
}
