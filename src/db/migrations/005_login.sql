-- Certificate login: single-use challenges for the signed-challenge login,
-- and the token driver packages offered for download.

CREATE TABLE login_challenges (
	id TEXT PRIMARY KEY,
	challenge TEXT NOT NULL,        -- base64 of 32 random bytes
	created_at BIGINT NOT NULL,
	used_at BIGINT
);

CREATE TABLE drivers (
	id {{ID}},
	name TEXT NOT NULL,
	version TEXT NOT NULL,
	os TEXT NOT NULL,
	filename TEXT NOT NULL,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	data {{BLOB}} NOT NULL,
	uploaded_by BIGINT REFERENCES accounts(id),
	created_at BIGINT NOT NULL
);

CREATE INDEX certificates_account ON certificates(account_id);

-- Password guesses from one address in one minute before it is slowed down.
INSERT INTO settings (name, value) VALUES ('login_ip_failures_per_minute', '30');
