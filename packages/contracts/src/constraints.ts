/**
 * Constraints of the wire contract that the gateway and the cell services validate the same way,
 * and the machine-readable reasons they exchange. Defined once, here.
 */

/** A SKU: 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit. */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const LIMITS = {
  /** Upper bound of prices and amounts (cents) and of stock (units). */
  maxAmount: 1_000_000_000,
  /** Product names, in characters (code points). */
  maxProductNameLength: 200,
  /** Lines of one order, each with a unique sku. */
  maxOrderLines: 50,
  /** Units of one order line. */
  maxLineQuantity: 10_000,
  /** Tenant ids, customer ids and payment tokens. */
  maxIdLength: 128,
  /** The Idempotency-Key header and its request fingerprint. */
  maxIdempotencyKeyLength: 255,
  maxFingerprintLength: 128,
} as const;

/** Reasons a cell service attaches to a gRPC error (metadata bulkhead-error-reason). */
export const ERROR_REASONS = {
  /** ABORTED: a request with this Idempotency-Key is still being processed. */
  idempotencyKeyInFlight: 'idempotency_key_in_flight',
  /** FAILED_PRECONDITION: the Idempotency-Key was used for a different request. */
  idempotencyKeyReused: 'idempotency_key_reused',
  /** FAILED_PRECONDITION: the new stock is below the units currently reserved. */
  stockBelowReserved: 'stock_below_reserved',
  /** RESOURCE_EXHAUSTED: the cell's saga backlog is at its bound (backpressure; retry later). */
  sagaBacklogFull: 'saga_backlog_full',
} as const;

/** Why an order was REJECTED (Order.reason). `invalid_request` means a bug: orders validates first. */
export const REJECTION_REASONS = [
  'out_of_stock',
  'unknown_sku',
  'payment_declined',
  'invalid_request',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
