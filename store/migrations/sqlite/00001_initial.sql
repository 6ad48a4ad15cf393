-- The schema as Preflight created it before versioned migrations, when
-- each package made its own tables: every statement says IF NOT EXISTS, so
-- this migration adopts a file made by an earlier release without touching
-- its data (store.adoptSQLite first adds the columns that releases older
-- still lack). Times are Unix milliseconds, UTC. There is no Down: a
-- binary older than the schema refuses to start instead (ErrSchemaNewer).

-- +goose Up

-- jobs: job_rows keeps the upload in order: its rowid grows with every
-- insert, so (job, id) order is the file's order. job_addresses holds one
-- row per distinct address of a job, with the state the runner works from:
-- 0 pending, 1 deferred (greylisted, retry at retry_at), 2 settled.
-- job_counts tallies settled rows by verdict and reason, updated in the
-- same transaction as the results, so progress reads are cheap.
CREATE TABLE IF NOT EXISTS jobs (
	pk           INTEGER PRIMARY KEY,
	id           TEXT    NOT NULL UNIQUE,
	state        TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	started_at   INTEGER NOT NULL DEFAULT 0,
	finished_at  INTEGER NOT NULL DEFAULT 0,
	delimiter    INTEGER NOT NULL,
	bom          INTEGER NOT NULL,
	has_header   INTEGER NOT NULL,
	header       BLOB,
	email_column INTEGER NOT NULL,
	width        INTEGER NOT NULL DEFAULT 0,
	total        INTEGER NOT NULL DEFAULT 0,
	addresses    INTEGER NOT NULL DEFAULT 0,
	settled      INTEGER NOT NULL DEFAULT 0,
	callback_url TEXT    NOT NULL DEFAULT '',
	webhook      TEXT    NOT NULL DEFAULT '',
	error        TEXT    NOT NULL DEFAULT '',
	source       TEXT    NOT NULL DEFAULT '',
	hook_attempts INTEGER NOT NULL DEFAULT 0,
	hook_status   INTEGER NOT NULL DEFAULT 0,
	hook_at       INTEGER NOT NULL DEFAULT 0,
	hook_error    TEXT    NOT NULL DEFAULT '',
	owner        TEXT    NOT NULL DEFAULT '',
	sample       INTEGER NOT NULL DEFAULT 0,
	population_rows      INTEGER NOT NULL DEFAULT 0,
	population_addresses INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS job_rows (
	id     INTEGER PRIMARY KEY,
	job    INTEGER NOT NULL,
	line   INTEGER NOT NULL,
	akey   TEXT    NOT NULL,
	fields BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS job_rows_order ON job_rows(job, id);
CREATE TABLE IF NOT EXISTS job_addresses (
	id         INTEGER PRIMARY KEY,
	job        INTEGER NOT NULL,
	akey       TEXT    NOT NULL,
	domain     TEXT    NOT NULL,
	rows       INTEGER NOT NULL,
	state      INTEGER NOT NULL DEFAULT 0,
	tries      INTEGER NOT NULL DEFAULT 0,
	retry_at   INTEGER NOT NULL DEFAULT 0,
	verdict    TEXT    NOT NULL DEFAULT '',
	risk       INTEGER NOT NULL DEFAULT 0,
	reason     TEXT    NOT NULL DEFAULT '',
	suggestion TEXT    NOT NULL DEFAULT '',
	result     BLOB,
	lane       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS job_addresses_key ON job_addresses(job, akey);
CREATE INDEX IF NOT EXISTS job_addresses_work ON job_addresses(job, state, domain, akey);
CREATE TABLE IF NOT EXISTS job_counts (
	job     INTEGER NOT NULL,
	verdict TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	rows    INTEGER NOT NULL,
	risk    INTEGER NOT NULL,
	PRIMARY KEY (job, verdict, reason)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_addresses_lane ON job_addresses(job, state, lane, domain, akey);

-- suppression: suppression_events keeps every classified event; key is the
-- idempotency key, so a redelivered webhook is stored once. Event IDs only
-- grow (no event is ever deleted, so SQLite never reuses the largest
-- rowid), which lets a removal name a cut-off. suppressions holds one row
-- per suppressed address (WITHOUT ROWID: the lookup is one B-tree search).
-- suppression_removals is the audit trail of manual un-suppressions;
-- event_cutoff is the newest event ID at the time.
CREATE TABLE IF NOT EXISTS suppression_events (
	id          INTEGER PRIMARY KEY,
	key         TEXT    NOT NULL UNIQUE,
	email       TEXT    NOT NULL,
	domain      TEXT    NOT NULL,
	class       TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	code        INTEGER NOT NULL,
	enhanced    TEXT    NOT NULL,
	diagnostic  TEXT    NOT NULL,
	provider    TEXT    NOT NULL,
	blocklist   TEXT    NOT NULL,
	signal      TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	soft        INTEGER NOT NULL,
	occurred_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS suppression_events_email ON suppression_events(email, occurred_at);
CREATE INDEX IF NOT EXISTS suppression_events_time ON suppression_events(occurred_at);
CREATE TABLE IF NOT EXISTS suppressions (
	email          TEXT    PRIMARY KEY,
	reason         TEXT    NOT NULL,
	class          TEXT    NOT NULL,
	code           INTEGER NOT NULL,
	enhanced       TEXT    NOT NULL,
	diagnostic     TEXT    NOT NULL,
	explanation    TEXT    NOT NULL,
	source         TEXT    NOT NULL,
	first_event_at INTEGER NOT NULL,
	last_event_at  INTEGER NOT NULL,
	suppressed_at  INTEGER NOT NULL,
	soft_count     INTEGER NOT NULL,
	event_id       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suppressions_time ON suppressions(suppressed_at);
CREATE TABLE IF NOT EXISTS suppression_removals (
	id              INTEGER PRIMARY KEY,
	email           TEXT    NOT NULL,
	removed_at      INTEGER NOT NULL,
	reason          TEXT    NOT NULL,
	previous_reason TEXT    NOT NULL,
	previous_class  TEXT    NOT NULL,
	suppressed_at   INTEGER NOT NULL,
	event_cutoff    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS suppression_removals_email ON suppression_removals(email, event_cutoff);

-- keys: the digest is SHA-256 of the whole token; revoked_at is 0 while the
-- key is active. Usage counts calls under verdict '' and results under
-- their verdict, per UTC day (YYYY-MM-DD).
CREATE TABLE IF NOT EXISTS api_keys (
	id          TEXT    PRIMARY KEY,
	name        TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	test        INTEGER NOT NULL,
	digest      BLOB    NOT NULL,
	origins     TEXT    NOT NULL DEFAULT '',
	daily_quota INTEGER NOT NULL DEFAULT 0,
	rate        REAL    NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_key_usage (
	key_id  TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	verdict TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (key_id, day, verdict)
) WITHOUT ROWID;
