-- Up Migration

-- A row the broker rejects (an unknown topic, a message too large) must not hold up the rest of
-- the outbox: the relay counts its failed attempts (`attempts`, `last_error`), retries it after
-- `next_attempt_at`, and after a bounded number of attempts parks it (`parked_at`): excluded
-- from the relay's rounds and from the housekeeping until requeueParked() puts it back. A broker
-- that cannot be reached counts no attempts. A row is sent or parked, never both.
ALTER TABLE outbox
  ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN last_error text NULL,
  ADD COLUMN next_attempt_at timestamptz NULL,
  ADD COLUMN parked_at timestamptz NULL,
  ADD CONSTRAINT outbox_sent_or_parked CHECK (sent_at IS NULL OR parked_at IS NULL);

-- The relay's query: rows neither sent nor parked, in seq order.
DROP INDEX outbox_unsent;
CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL AND parked_at IS NULL;

-- Rows waiting for their next attempt, by key: a later row of the same topic and key waits too.
CREATE INDEX outbox_retrying ON outbox (topic, message_key, seq)
  WHERE next_attempt_at IS NOT NULL AND sent_at IS NULL AND parked_at IS NULL;

-- Parked rows (outboxState, requeueParked).
CREATE INDEX outbox_parked ON outbox (parked_at) WHERE parked_at IS NOT NULL;

-- Down Migration

DROP INDEX outbox_parked;
DROP INDEX outbox_retrying;
DROP INDEX outbox_pending;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
ALTER TABLE outbox
  DROP CONSTRAINT outbox_sent_or_parked,
  DROP COLUMN parked_at,
  DROP COLUMN next_attempt_at,
  DROP COLUMN last_error,
  DROP COLUMN attempts;
