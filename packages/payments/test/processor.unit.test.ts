import { describe, expect, it } from 'vitest';
import { authorize, captureTransition, voidTransition } from '../src/processor.js';

describe('authorize', () => {
  it('approves tok_visa', () => {
    expect(authorize({ amountCents: 1999, paymentToken: 'tok_visa' })).toEqual({
      status: 'AUTHORIZED',
    });
  });

  it('declines tok_decline as card_declined and anything else as invalid_token', () => {
    expect(authorize({ amountCents: 1999, paymentToken: 'tok_decline' })).toEqual({
      status: 'DECLINED',
      declineCode: 'card_declined',
    });
    for (const paymentToken of ['', 'tok_mastercard', 'TOK_VISA']) {
      expect(authorize({ amountCents: 1999, paymentToken })).toEqual({
        status: 'DECLINED',
        declineCode: 'invalid_token',
      });
    }
  });

  it('declines negative and non-integer amounts', () => {
    for (const amountCents of [-5, 1.5]) {
      expect(authorize({ amountCents, paymentToken: 'tok_visa' })).toEqual({
        status: 'DECLINED',
        declineCode: 'invalid_amount',
      });
    }
  });

  it('authorizes a zero amount (free products can be ordered), still by token', () => {
    expect(authorize({ amountCents: 0, paymentToken: 'tok_visa' })).toEqual({
      status: 'AUTHORIZED',
    });
    expect(authorize({ amountCents: 0, paymentToken: 'tok_decline' })).toEqual({
      status: 'DECLINED',
      declineCode: 'card_declined',
    });
  });
});

describe('captureTransition', () => {
  it('captures an authorized payment once', () => {
    expect(captureTransition('AUTHORIZED')).toEqual({ kind: 'apply', to: 'CAPTURED' });
    expect(captureTransition('CAPTURED')).toEqual({ kind: 'noop' });
  });

  it('refuses to capture what was never authorized or is gone', () => {
    for (const status of [undefined, 'DECLINED', 'VOIDED'] as const) {
      expect(captureTransition(status).kind).toBe('refuse');
    }
  });
});

describe('voidTransition', () => {
  it('voids an authorized payment, remembers a void before any payment; nothing held is a no-op', () => {
    expect(voidTransition('AUTHORIZED')).toEqual({ kind: 'apply', to: 'VOIDED' });
    expect(voidTransition(undefined)).toEqual({ kind: 'apply', to: 'VOIDED' });
    for (const status of ['DECLINED', 'VOIDED'] as const) {
      expect(voidTransition(status)).toEqual({ kind: 'noop' });
    }
  });

  it('refuses to void a captured payment', () => {
    expect(voidTransition('CAPTURED').kind).toBe('refuse');
  });
});
