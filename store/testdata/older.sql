-- The tables of an older release, before lanes, webhook details, owners
-- and samples, which later releases added with ALTER TABLE; with some data.
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
	source       TEXT    NOT NULL DEFAULT ''
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
	result     BLOB
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

INSERT INTO jobs (id, state, created_at, delimiter, bom, has_header, header, email_column, total, addresses, settled)
	VALUES ('job_old', 'done', 1700000000000, 44, 0, 1, x'0105656d61696c', 0, 2, 1, 1);
INSERT INTO job_rows (job, line, akey, fields) VALUES (1, 2, 'a@example.com', x'010d61406578616d706c652e636f6d');
INSERT INTO job_rows (job, line, akey, fields) VALUES (1, 3, 'a@example.com', x'010d61406578616d706c652e636f6d');
INSERT INTO job_addresses (job, akey, domain, rows, state, verdict, risk, reason) VALUES (1, 'a@example.com', 'example.com', 2, 2, 'valid', 5, 'accepted');
INSERT INTO job_counts (job, verdict, reason, rows, risk) VALUES (1, 'valid', 'accepted', 2, 10);
INSERT INTO suppressions (email, reason, class, code, enhanced, diagnostic, explanation, source, first_event_at, last_event_at, suppressed_at, soft_count, event_id)
	VALUES ('b@example.com', 'hard_bounce', 'hard', 550, '5.1.1', 'no such user', '', 'test', 1, 1, 1, 0, 1);
INSERT INTO api_keys (id, name, kind, test, digest, created_at) VALUES ('key_1', 'ci', 'secret', 0, x'00', 1700000000000);
