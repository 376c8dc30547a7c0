-- Up Migration
-- Idempotent consumer: one row per message a consumer has processed, written in the same
-- transaction as the message's effect.
CREATE TABLE inbox (
  consumer     text NOT NULL,
  message_id   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

-- Down Migration
DROP TABLE inbox;
