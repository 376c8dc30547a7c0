-- Up Migration

-- The identity of this database's routing state. Snapshot versions count the changes made in this
-- database only: when it is replaced (a fresh database, a lost volume) they restart low, and a
-- watcher holding a higher version of the old database would wait for them forever. Every
-- snapshot carries the epoch, and a version is compared only with versions of the same epoch.
-- Made here, once per database, not by the control plane at start: every instance on the
-- database reads the same epoch.
ALTER TABLE snapshot_version ADD COLUMN epoch uuid;
UPDATE snapshot_version SET epoch = gen_random_uuid();
ALTER TABLE snapshot_version ALTER COLUMN epoch SET NOT NULL;

-- Down Migration

ALTER TABLE snapshot_version DROP COLUMN epoch;
