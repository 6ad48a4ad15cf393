-- A few rows of every table, in the columns every release has had.
INSERT INTO jobs (id, state, created_at, delimiter, bom, has_header, header, email_column, total, addresses, settled)
	VALUES ('job_old', 'done', 1700000000000, 44, 0, 1, x'0105656d61696c', 0, 2, 1, 1);
INSERT INTO job_rows (job, line, akey, fields) VALUES (1, 2, 'a@example.com', x'010d61406578616d706c652e636f6d');
INSERT INTO job_rows (job, line, akey, fields) VALUES (1, 3, 'a@example.com', x'010d61406578616d706c652e636f6d');
INSERT INTO job_addresses (job, akey, domain, rows, state, verdict, risk, reason) VALUES (1, 'a@example.com', 'example.com', 2, 2, 'valid', 5, 'accepted');
INSERT INTO job_counts (job, verdict, reason, rows, risk) VALUES (1, 'valid', 'accepted', 2, 10);
INSERT INTO suppressions (email, reason, class, code, enhanced, diagnostic, explanation, source, first_event_at, last_event_at, suppressed_at, soft_count, event_id)
	VALUES ('b@example.com', 'hard_bounce', 'hard', 550, '5.1.1', 'no such user', '', 'test', 1, 1, 1, 0, 1);
INSERT INTO api_keys (id, name, kind, test, digest, created_at) VALUES ('key_1', 'ci', 'secret', 0, x'00', 1700000000000);
