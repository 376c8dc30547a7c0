-- Up Migration

-- The order saga runs its steps after the pivot (commit the stock, capture the payment) at once:
-- `completing` lists those not yet acknowledged while it does (`step` is null then). A saga
-- stored mid-way in order (`step` past the pivot) goes on from there (packages/saga).
ALTER TABLE order_sagas ADD COLUMN completing text[] NOT NULL DEFAULT '{}';

-- Down Migration

-- Back to one step at a time: the first of the steps still completing runs (the other is re-sent
-- after it, in order; participants are idempotent per order).
UPDATE order_sagas SET step = completing[1] WHERE cardinality(completing) > 0;
ALTER TABLE order_sagas DROP COLUMN completing;
