-- Rate limits shared by every espd on the store: one row per limited thing
-- (a key such as "login:user:alice" or "register:addr:10.0.0.1") counting
-- its events in the window that began with the first of them and ends at
-- window_end. One INSERT ... ON CONFLICT DO UPDATE reserves a slot
-- atomically; rows whose window has ended are deleted by espd's
-- maintenance, so the table holds only the windows still open.
CREATE TABLE rate_limits (
	key TEXT PRIMARY KEY,
	window_end BIGINT NOT NULL,
	count INTEGER NOT NULL
);
CREATE INDEX rate_limits_window_end ON rate_limits(window_end);

-- The challenge cap counts the unexpired ones; maintenance deletes the rest.
CREATE INDEX login_challenges_created ON login_challenges(created_at);
-- Scans no application refers to are deleted after a day: found through this.
CREATE INDEX applications_scan ON applications(scan_id);
CREATE INDEX uploads_created ON uploads(created_at);

-- The in-memory per-address throttle it configured is gone: the limits of
-- password login are the settings login_max_failures / login_lockout_seconds
-- (one account from one address) and espd's configuration (docs/config.md).
DELETE FROM settings WHERE name = 'login_ip_failures_per_minute';
