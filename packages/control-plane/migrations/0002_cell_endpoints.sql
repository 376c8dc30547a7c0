-- Up Migration

-- A cell is an id and a map of endpoints (service -> host:port), not one column per service:
-- a new cell service is a new row per cell, not a schema change.
CREATE TABLE cell_endpoints (
  cell_id text NOT NULL REFERENCES cells (id) ON DELETE CASCADE,
  service text NOT NULL CHECK (service ~ '^[a-z][a-z0-9-]{0,30}$'),
  address text NOT NULL CHECK (address <> ''),
  PRIMARY KEY (cell_id, service)
);

INSERT INTO cell_endpoints (cell_id, service, address)
SELECT id, 'orders', orders_address FROM cells
UNION ALL
SELECT id, 'inventory', inventory_address FROM cells
UNION ALL
SELECT id, 'payments', payments_address FROM cells;

ALTER TABLE cells
  DROP COLUMN orders_address,
  DROP COLUMN inventory_address,
  DROP COLUMN payments_address;

-- Down Migration

ALTER TABLE cells
  ADD COLUMN orders_address text,
  ADD COLUMN inventory_address text,
  ADD COLUMN payments_address text;

UPDATE cells c SET
  orders_address = (SELECT address FROM cell_endpoints e WHERE e.cell_id = c.id AND e.service = 'orders'),
  inventory_address = (SELECT address FROM cell_endpoints e WHERE e.cell_id = c.id AND e.service = 'inventory'),
  payments_address = (SELECT address FROM cell_endpoints e WHERE e.cell_id = c.id AND e.service = 'payments');

ALTER TABLE cells
  ALTER COLUMN orders_address SET NOT NULL,
  ALTER COLUMN inventory_address SET NOT NULL,
  ALTER COLUMN payments_address SET NOT NULL;

DROP TABLE cell_endpoints;
