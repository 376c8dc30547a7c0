/** The pure decision rules of inventory (no I/O), unit-tested on their own. */

export interface StockLine {
  sku: string;
  quantity: number;
}

export interface PricedLine extends StockLine {
  unitPriceCents: number;
}

/** What a reservation needs to know about one locked product row. */
export interface StockLevel {
  available: number;
  priceCents: number;
}

/** CANCELLED: the order's stock was released before it was reserved (see settleReservation). */
export type ReservationFailure = 'OUT_OF_STOCK' | 'UNKNOWN_SKU' | 'INVALID_REQUEST' | 'CANCELLED';

export type ReservationDecision =
  { ok: true; lines: PricedLine[] } | { ok: false; failure: ReservationFailure; detail: string };

const bySku = (a: { sku: string }, b: { sku: string }) =>
  a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0;

/**
 * Decides a reservation, all lines or none. Lines of the same sku are merged; the priced lines
 * come back in sku order. `products` holds the tenant's rows for the requested skus (locked by the
 * caller); a missing sku is unknown. Unknown skus are reported before shortages.
 */
export function decideReservation(
  lines: readonly StockLine[],
  products: ReadonlyMap<string, StockLevel>,
): ReservationDecision {
  if (lines.length === 0) return { ok: false, failure: 'INVALID_REQUEST', detail: 'no lines' };
  const wanted = new Map<string, number>();
  for (const { sku, quantity } of lines) {
    if (!Number.isSafeInteger(quantity) || quantity <= 0) {
      return {
        ok: false,
        failure: 'INVALID_REQUEST',
        detail: `quantity of ${sku} must be positive`,
      };
    }
    wanted.set(sku, (wanted.get(sku) ?? 0) + quantity);
  }
  const merged = [...wanted].map(([sku, quantity]) => ({ sku, quantity })).sort(bySku);

  const unknown = merged.filter((line) => !products.has(line.sku)).map((line) => line.sku);
  if (unknown.length > 0) {
    return { ok: false, failure: 'UNKNOWN_SKU', detail: `unknown sku: ${unknown.join(', ')}` };
  }
  const priced: PricedLine[] = [];
  const short: string[] = [];
  for (const { sku, quantity } of merged) {
    const product = products.get(sku) as StockLevel;
    if (product.available < quantity)
      short.push(`${sku} (wanted ${quantity}, available ${product.available})`);
    priced.push({ sku, quantity, unitPriceCents: product.priceCents });
  }
  if (short.length > 0) {
    return { ok: false, failure: 'OUT_OF_STOCK', detail: `out of stock: ${short.join(', ')}` };
  }
  return { ok: true, lines: priced };
}
