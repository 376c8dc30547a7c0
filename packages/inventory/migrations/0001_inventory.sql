-- Up Migration
CREATE TABLE products (
  tenant_id   text        NOT NULL,
  sku         text        NOT NULL,
  name        text        NOT NULL,
  price_cents bigint      NOT NULL CHECK (price_cents >= 0),
  -- Units on hand = available + reserved. The CHECKs are the last line of defence against
  -- overselling; the row locks taken by every stock change are the first.
  available   bigint      NOT NULL CHECK (available >= 0),
  reserved    bigint      NOT NULL CHECK (reserved >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, sku)
);

-- One row per order line. The unit price is the one quoted when the stock was reserved, so a
-- redelivered ReserveStock gets the same reply even if the price changed since.
CREATE TABLE reservations (
  tenant_id        text        NOT NULL,
  order_id         text        NOT NULL,
  sku              text        NOT NULL,
  quantity         bigint      NOT NULL CHECK (quantity > 0),
  unit_price_cents bigint      NOT NULL CHECK (unit_price_cents >= 0),
  status           text        NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'COMMITTED')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, order_id, sku),
  FOREIGN KEY (tenant_id, sku) REFERENCES products (tenant_id, sku)
);

-- The outcome of a reservation that failed, so that the same ReserveStock delivered again (even
-- with another message id) gets the same answer instead of reserving stock that freed up since.
CREATE TABLE reservation_failures (
  tenant_id  text        NOT NULL,
  order_id   text        NOT NULL,
  failure    text        NOT NULL CHECK (failure IN ('OUT_OF_STOCK', 'UNKNOWN_SKU', 'INVALID_REQUEST')),
  detail     text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, order_id)
);

-- Down Migration
DROP TABLE reservation_failures;
DROP TABLE reservations;
DROP TABLE products;
