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
  /** Tenant names (admin API), in characters. */
  maxTenantNameLength: 100,
} as const;

/**
 * What no text field takes: C0 controls (NUL included, which PostgreSQL text cannot hold), DEL
 * and C1 controls.
 */
const CONTROLS = '\\u0000-\\u001F\\u007F-\\u009F';
/** Whitespace as String.prototype.trim sees it, less the controls already excluded. */
const SPACE = '\\u0020\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF';

/** The rule of a free-text field, checked by the gateway, the admin API and the cell services alike. */
export interface TextRule {
  /**
   * The characters and the length (1-maxLength characters, i.e. code points, as JSON Schema's
   * minLength/maxLength count them; `u` flag), in plain ECMA-262 that JSON Schema validators in
   * other languages read alike — so it is published as the field's `pattern`.
   */
  readonly pattern: RegExp;
  readonly maxLength: number;
  readonly message: string;
  /**
   * The whole rule: the pattern, and well-formed UTF-16 — a lone surrogate is no character,
   * UTF-8 (protobuf, PostgreSQL) cannot carry it and would silently replace it with U+FFFD. (A
   * pattern cannot say this portably: regex engines over UTF-8 cannot name surrogates.)
   */
  readonly test: (value: string) => boolean;
}

/**
 * 1-maxLength characters, without control characters or lone surrogates; with `blank: false`,
 * not only whitespace either.
 */
export function textRule(maxLength: number, options: { blank?: boolean } = {}): TextRule {
  const blank = options.blank ?? true;
  const notBlank = blank ? '' : `(?=[^${CONTROLS}]*[^${CONTROLS}${SPACE}])`;
  const pattern = new RegExp(`^${notBlank}[^${CONTROLS}]{1,${maxLength}}$`, 'u');
  return {
    pattern,
    maxLength,
    message: `must be 1-${maxLength} characters${blank ? '' : ', not all whitespace,'} without control characters or lone surrogates`,
    test: (value) => pattern.test(value) && value.isWellFormed(),
  };
}

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

/**
 * Why an order was REJECTED (Order.reason). `invalid_request` means a bug: orders validates first.
 * `timeout`: a step before the pivot got no answer within its deadline, re-sends included;
 * `processing_failed`: a participant could not carry out its command (it was dead-lettered).
 */
export const REJECTION_REASONS = [
  'out_of_stock',
  'unknown_sku',
  'payment_declined',
  'invalid_request',
  'timeout',
  'processing_failed',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
