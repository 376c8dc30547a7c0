-- Up Migration
CREATE TABLE orders (
  id            uuid        PRIMARY KEY,
  tenant_id     text        NOT NULL,
  customer_id   text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED')),
  -- [{ "sku", "quantity", "unitPriceCents" }]; prices are filled in when stock is reserved.
  items         jsonb       NOT NULL,
  total_cents   bigint      NOT NULL DEFAULT 0,
  payment_token text        NOT NULL,
  reason        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at);

-- The order saga's persisted state (see packages/saga): one row per order.
CREATE TABLE order_sagas (
  order_id       uuid        PRIMARY KEY REFERENCES orders (id),
  status         text        NOT NULL CHECK (status IN ('RUNNING', 'COMPENSATING', 'COMPLETED', 'FAILED')),
  step           text,
  failure_reason text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_sagas_open ON order_sagas (updated_at) WHERE status IN ('RUNNING', 'COMPENSATING');

-- Down Migration
DROP TABLE order_sagas;
DROP TABLE orders;
