import { describe, expect, it } from 'vitest';
import { requestProblems } from '@bulkhead/grpc';
import { upsertProductSchema } from '../src/api.js';
import { decideReservation, type StockLevel } from '../src/reservation.js';

const stock = (entries: Record<string, StockLevel>) => new Map(Object.entries(entries));

describe('decideReservation', () => {
  const products = stock({
    apple: { available: 5, priceCents: 120 },
    pear: { available: 1, priceCents: 300 },
  });

  it('prices every line when all are in stock, in sku order', () => {
    expect(
      decideReservation(
        [
          { sku: 'pear', quantity: 1 },
          { sku: 'apple', quantity: 5 },
        ],
        products,
      ),
    ).toEqual({
      ok: true,
      lines: [
        { sku: 'apple', quantity: 5, unitPriceCents: 120 },
        { sku: 'pear', quantity: 1, unitPriceCents: 300 },
      ],
    });
  });

  it('merges lines of the same sku before checking stock', () => {
    const merged = decideReservation(
      [
        { sku: 'apple', quantity: 2 },
        { sku: 'apple', quantity: 3 },
      ],
      products,
    );
    expect(merged).toEqual({
      ok: true,
      lines: [{ sku: 'apple', quantity: 5, unitPriceCents: 120 }],
    });
    const tooMany = decideReservation(
      [
        { sku: 'apple', quantity: 3 },
        { sku: 'apple', quantity: 3 },
      ],
      products,
    );
    expect(tooMany).toMatchObject({ ok: false, failure: 'OUT_OF_STOCK' });
  });

  it('fails the whole order when one line is short', () => {
    const decision = decideReservation(
      [
        { sku: 'apple', quantity: 1 },
        { sku: 'pear', quantity: 2 },
      ],
      products,
    );
    expect(decision).toEqual({
      ok: false,
      failure: 'OUT_OF_STOCK',
      detail: 'out of stock: pear (wanted 2, available 1)',
    });
  });

  it('reports unknown skus before shortages', () => {
    const decision = decideReservation(
      [
        { sku: 'pear', quantity: 9 },
        { sku: 'plum', quantity: 1 },
      ],
      products,
    );
    expect(decision).toEqual({ ok: false, failure: 'UNKNOWN_SKU', detail: 'unknown sku: plum' });
  });

  it('rejects empty orders and non-positive quantities', () => {
    expect(decideReservation([], products)).toMatchObject({
      ok: false,
      failure: 'INVALID_REQUEST',
    });
    expect(decideReservation([{ sku: 'apple', quantity: 0 }], products)).toMatchObject({
      ok: false,
      failure: 'INVALID_REQUEST',
    });
    expect(decideReservation([{ sku: 'apple', quantity: -1 }], products)).toMatchObject({
      ok: false,
      failure: 'INVALID_REQUEST',
    });
  });
});

describe('the UpsertProduct request schema', () => {
  const productInputProblems = (input: unknown) => requestProblems(upsertProductSchema, input);
  const valid = {
    tenantId: 't1',
    sku: 'SKU-1.a_b',
    name: 'Apple',
    priceCents: 0,
    stock: 1_000_000_000,
  };

  it('accepts a valid product', () => {
    expect(productInputProblems(valid)).toEqual([]);
    expect(productInputProblems({ ...valid, sku: 'a'.repeat(64), name: 'é'.repeat(200) })).toEqual(
      [],
    );
  });

  it.each([
    ['tenant_id', { tenantId: '' }],
    ['sku', { sku: '' }],
    ['sku', { sku: '-leading-dash' }],
    ['sku', { sku: 'has space' }],
    ['sku', { sku: 'a'.repeat(65) }],
    ['name', { name: '' }],
    ['name', { name: '   ' }],
    ['name', { name: 'x'.repeat(201) }],
    ['price_cents', { priceCents: -1 }],
    ['price_cents', { priceCents: 1_000_000_001 }],
    ['stock', { stock: -1 }],
    ['stock', { stock: 1_000_000_001 }],
  ])('names %s when it is invalid (%o)', (field, change) => {
    const problems = productInputProblems({ ...valid, ...change });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(field);
  });
});
