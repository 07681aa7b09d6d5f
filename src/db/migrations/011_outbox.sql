-- The e-mail outbox: one row per message, written in the same transaction
-- as the change that causes it (core/notify.c), sent by espd's mail worker
-- (httpd/mailer.c) and shown as a notice on the applicant's pages.
--
-- state, and who moves it (core/outbox.c says why each step is safe):
--   pending     due at next_at; a worker claims it
--   sending     claimed under lease_token until lease_until; the final "."
--               of the SMTP DATA has NOT been sent: after a crash, the lease
--               runs out and the row is claimed again (the server discards
--               a transaction whose "." never came, RFC 5321 4.1.1.4)
--   committing  written just before the "." goes out; the server's reply
--               decides: 250 -> sent, 4xx/5xx -> pending/dead
--   in_doubt    a committing row whose worker died (lease ran out) or lost
--               the connection before the reply: it may have been
--               delivered, so it is never sent again by itself; the admin
--               decides (already delivered / send again)
--   sent        the server answered 250 (smtp_reply keeps its text)
--   dead        refused for good (5xx) or out of attempts; the admin may retry
--   no_address  nobody to send it to (no e-mail known): a notice only
CREATE TABLE outbox (
	id {{ID}},
	kind TEXT NOT NULL,
	audience TEXT NOT NULL,          -- holder | ra
	registration_id BIGINT REFERENCES registrations(id),
	recipient TEXT NOT NULL,
	params TEXT NOT NULL,            -- JSON object: the template's values
	once_key TEXT UNIQUE,            -- reminders and overdue notices: once each
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at BIGINT NOT NULL,
	lease_until BIGINT,
	lease_token TEXT,
	last_error TEXT,
	smtp_reply TEXT,
	created_at BIGINT NOT NULL,
	sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox(state, next_at);
CREATE INDEX outbox_registration ON outbox(registration_id, created_at);

-- The RA's address for the notices it receives (overdue, returned ...).
ALTER TABLE ra_directory ADD COLUMN email TEXT NOT NULL DEFAULT '';
