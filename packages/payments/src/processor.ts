/** The pure rules of the simulated payment processor (no I/O), unit-tested on their own. */

export type PaymentStatus = 'AUTHORIZED' | 'DECLINED' | 'CAPTURED' | 'VOIDED';

/** Deterministic test tokens, like a card processor's sandbox. */
export const APPROVE_TOKEN = 'tok_visa';
export const DECLINE_TOKEN = 'tok_decline';

export type Authorization = { status: 'AUTHORIZED' } | { status: 'DECLINED'; declineCode: string };

/**
 * A zero amount is authorized like any other (a zero-value authorization, as card networks do to
 * verify a card): products may be free, and declining them would reject orders that can be sold.
 */
export function authorize(request: { amountCents: number; paymentToken: string }): Authorization {
  if (!Number.isSafeInteger(request.amountCents) || request.amountCents < 0) {
    return { status: 'DECLINED', declineCode: 'invalid_amount' };
  }
  if (request.paymentToken === APPROVE_TOKEN) return { status: 'AUTHORIZED' };
  if (request.paymentToken === DECLINE_TOKEN)
    return { status: 'DECLINED', declineCode: 'card_declined' };
  return { status: 'DECLINED', declineCode: 'invalid_token' };
}

/**
 * What a capture or void does to a payment in a given state (undefined: no payment):
 * `apply` moves it to `to` and replies; `noop` only replies (the work is already done, or there is
 * nothing to do); `refuse` replies nothing, because the request contradicts the payment's state.
 */
export type Transition =
  { kind: 'apply'; to: PaymentStatus } | { kind: 'noop' } | { kind: 'refuse'; reason: string };

export function captureTransition(current: PaymentStatus | undefined): Transition {
  switch (current) {
    case 'AUTHORIZED':
      return { kind: 'apply', to: 'CAPTURED' };
    case 'CAPTURED':
      return { kind: 'noop' };
    case undefined:
      return { kind: 'refuse', reason: 'no payment to capture' };
    default:
      return { kind: 'refuse', reason: `cannot capture a ${current.toLowerCase()} payment` };
  }
}

export function voidTransition(current: PaymentStatus | undefined): Transition {
  switch (current) {
    case 'AUTHORIZED':
      return { kind: 'apply', to: 'VOIDED' };
    // No payment yet: the void is remembered (a VOIDED payment of 0), so that an authorization
    // arriving after it (a redrive, a late delivery) authorizes nothing.
    case undefined:
      return { kind: 'apply', to: 'VOIDED' };
    case 'CAPTURED':
      return { kind: 'refuse', reason: 'a captured payment is refunded, not voided' };
    default:
      // Already voided, or declined: nothing is held, so nothing to void.
      return { kind: 'noop' };
  }
}
