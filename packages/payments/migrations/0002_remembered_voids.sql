-- Up Migration

-- A void that arrives before its authorization (the saga timed out or could not authorize,
-- then the AuthorizePayment came after all) is remembered as a VOIDED payment of amount 0, so
-- that a later AuthorizePayment finds it and authorizes nothing. The old check also refused the
-- zero-value authorization the processor allows (processor.ts): amounts are only never negative.
ALTER TABLE payments DROP CONSTRAINT payments_check1;
ALTER TABLE payments ADD CONSTRAINT payments_amount_not_negative CHECK (amount_cents >= 0);

-- Down Migration

DELETE FROM payments WHERE status = 'VOIDED' AND amount_cents = 0;
ALTER TABLE payments DROP CONSTRAINT payments_amount_not_negative;
ALTER TABLE payments ADD CONSTRAINT payments_check1 CHECK (status = 'DECLINED' OR amount_cents > 0);
