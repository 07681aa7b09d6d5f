-- 信息变更 (change of registration details): a registered unit or
-- evaluator submits new values for its name, code, address and contact;
-- the change waits here, the old and the new values side by side (JSON
-- objects of the fields that differ), until its 主管机关 approves it or
-- returns it with a reason.  The registration keeps its old values until
-- then.  One open change per registration (the partial unique index).
-- reissue: the name or code changed, so the registration's valid
-- certificates are re-issued on their tokens (applications.change_id names
-- the change a renewal application was made for; its old certificate is
-- revoked as affiliationChanged, not superseded).
CREATE TABLE registration_changes (
	id {{ID}},
	registration_id BIGINT NOT NULL REFERENCES registrations(id),
	state TEXT NOT NULL,
	old_values TEXT NOT NULL,
	new_values TEXT NOT NULL,
	scan_id BIGINT REFERENCES uploads(id),
	reissue INTEGER NOT NULL DEFAULT 0,
	reason TEXT,
	submitted_by BIGINT NOT NULL REFERENCES accounts(id),
	reviewed_by BIGINT REFERENCES accounts(id),
	reviewed_at BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX registration_changes_open ON registration_changes(registration_id)
	WHERE state = 'pending';
CREATE INDEX registration_changes_state ON registration_changes(state, created_at);
ALTER TABLE applications ADD COLUMN change_id BIGINT REFERENCES registration_changes(id);
