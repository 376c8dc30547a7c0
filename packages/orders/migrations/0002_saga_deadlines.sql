-- Up Migration

-- Every step of a saga has a deadline (see packages/orders/src/sweeper.ts): `deadline_at` is when
-- the sweeper acts on the saga next (re-sends what it awaits, or times the step out), null once
-- the saga has ended; `attempts` counts the re-sends of what it awaits now. A failing saga
-- compensates all its compensable steps at once and awaits each acknowledgement:
-- `compensating` lists the steps still to be acknowledged (`step` is only the running step).
ALTER TABLE order_sagas
  ADD COLUMN compensating text[] NOT NULL DEFAULT '{}',
  ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN deadline_at timestamptz;

UPDATE order_sagas SET compensating = ARRAY[step], step = NULL
  WHERE status = 'COMPENSATING' AND step IS NOT NULL;
UPDATE order_sagas SET deadline_at = now() WHERE status IN ('RUNNING', 'COMPENSATING');

ALTER TABLE order_sagas ADD CONSTRAINT order_sagas_deadline_while_open
  CHECK ((deadline_at IS NULL) = (status IN ('COMPLETED', 'FAILED')));

-- The sweeper's query: open sagas by deadline.
CREATE INDEX order_sagas_deadline ON order_sagas (deadline_at) WHERE deadline_at IS NOT NULL;

-- Down Migration

DROP INDEX order_sagas_deadline;
ALTER TABLE order_sagas DROP CONSTRAINT order_sagas_deadline_while_open;
UPDATE order_sagas SET step = compensating[1] WHERE status = 'COMPENSATING';
ALTER TABLE order_sagas DROP COLUMN compensating, DROP COLUMN attempts, DROP COLUMN deadline_at;
