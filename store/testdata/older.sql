-- Turns the last release's tables into an older release's, from before
-- lanes, webhook details, owners and samples (which later releases added
-- with ALTER TABLE).
DROP INDEX job_addresses_lane;
ALTER TABLE job_addresses DROP COLUMN lane;
ALTER TABLE jobs DROP COLUMN hook_attempts;
ALTER TABLE jobs DROP COLUMN hook_status;
ALTER TABLE jobs DROP COLUMN hook_at;
ALTER TABLE jobs DROP COLUMN hook_error;
ALTER TABLE jobs DROP COLUMN owner;
ALTER TABLE jobs DROP COLUMN sample;
ALTER TABLE jobs DROP COLUMN population_rows;
ALTER TABLE jobs DROP COLUMN population_addresses;
