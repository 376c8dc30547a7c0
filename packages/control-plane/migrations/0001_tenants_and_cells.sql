-- Up Migration

-- Cells come from configuration (BULKHEAD_CELLS) and are upserted at start. A cell removed from
-- configuration while it still holds tenants stays, inactive: still routed to, no new tenants.
CREATE TABLE cells (
  id                text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,30}$'),
  orders_address    text NOT NULL,
  inventory_address text NOT NULL,
  payments_address  text NOT NULL,
  active            boolean NOT NULL DEFAULT true
);

CREATE TABLE tenants (
  id                    uuid PRIMARY KEY,
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  cell_id               text NOT NULL REFERENCES cells (id),
  -- Hex SHA-256 of the API key; the key itself is shown once and never stored.
  api_key_sha256        text NOT NULL UNIQUE CHECK (api_key_sha256 ~ '^[0-9a-f]{64}$'),
  rate_limit_per_second integer NOT NULL DEFAULT 0 CHECK (rate_limit_per_second >= 0),
  created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tenants_cell_id_idx ON tenants (cell_id);

-- The routing snapshot's version: one row, bumped in the same transaction as every change.
CREATE TABLE snapshot_version (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version      bigint NOT NULL CHECK (version >= 0),
  published_at timestamptz NOT NULL
);

INSERT INTO snapshot_version (version, published_at) VALUES (0, now());

-- Down Migration

DROP TABLE snapshot_version;
DROP TABLE tenants;
DROP TABLE cells;
