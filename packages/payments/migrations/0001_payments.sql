-- Up Migration
CREATE TABLE payments (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    text        NOT NULL,
  order_id     text        NOT NULL,
  amount_cents bigint      NOT NULL,
  status       text        NOT NULL CHECK (status IN ('AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED')),
  decline_code text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- One payment per order: a repeated AuthorizePayment finds the first one.
  UNIQUE (tenant_id, order_id),
  CHECK ((status = 'DECLINED') = (decline_code IS NOT NULL)),
  CHECK (status = 'DECLINED' OR amount_cents > 0)
);

-- Down Migration
DROP TABLE payments;
