-- Up Migration
-- Transactional outbox: rows are inserted in the business transaction and published to Kafka
-- by the relay after commit. seq gives the publish order.
CREATE TABLE outbox (
  seq            bigserial PRIMARY KEY,
  message_id     uuid NOT NULL UNIQUE,
  topic          text NOT NULL,
  message_key    text NOT NULL,
  message_type   text NOT NULL,
  payload        bytea NOT NULL,
  tenant_id      text NOT NULL,
  cell_id        text NOT NULL,
  correlation_id text NOT NULL,
  causation_id   text NULL,
  traceparent    text NULL,
  tracestate     text NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  sent_at        timestamptz NULL
);

-- The relay's query: unsent rows in seq order. Stays small however large the table grows.
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Down Migration
DROP TABLE outbox;
