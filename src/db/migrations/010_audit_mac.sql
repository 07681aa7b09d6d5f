-- The audit log's entries become keyed: from the first entry written with
-- the audit key (<data_dir>/audit.key) on, `hash` holds an HMAC-SHA-256
-- with that key instead of a plain SHA-256, and mac_version says which:
-- 0 for the entries written before the key existed (they still verify the
-- old way), 1 for keyed ones.  The key file names the first keyed entry, so
-- a keyed entry cannot be turned back into an unkeyed one (src/core/audit.c).
ALTER TABLE audit_log ADD COLUMN mac_version INTEGER NOT NULL DEFAULT 0;
