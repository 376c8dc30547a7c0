-- Up Migration
CREATE TABLE idempotency_keys (
  scope        text        NOT NULL,  -- the tenant: keys are unique per tenant
  key          text        NOT NULL,
  fingerprint  text        NOT NULL,  -- hash of the request the key was first used with
  response     jsonb       NOT NULL,  -- the first response, replayed to retries
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Down Migration
DROP TABLE idempotency_keys;
