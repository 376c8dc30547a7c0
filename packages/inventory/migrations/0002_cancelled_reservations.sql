-- Up Migration

-- A release that arrives before its reservation (the saga timed out or could not reserve, then
-- the ReserveStock came after all: a redrive, a late delivery) is remembered as a CANCELLED
-- outcome, so that the reservation never happens and no stock is held for an ended saga.
ALTER TABLE reservation_failures DROP CONSTRAINT reservation_failures_failure_check;
ALTER TABLE reservation_failures ADD CONSTRAINT reservation_failures_failure_check
  CHECK (failure IN ('OUT_OF_STOCK', 'UNKNOWN_SKU', 'INVALID_REQUEST', 'CANCELLED'));

-- Down Migration

DELETE FROM reservation_failures WHERE failure = 'CANCELLED';
ALTER TABLE reservation_failures DROP CONSTRAINT reservation_failures_failure_check;
ALTER TABLE reservation_failures ADD CONSTRAINT reservation_failures_failure_check
  CHECK (failure IN ('OUT_OF_STOCK', 'UNKNOWN_SKU', 'INVALID_REQUEST'));
