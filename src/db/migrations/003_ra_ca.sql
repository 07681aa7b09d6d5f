-- The RA back office (payments, materials), certificates on tokens, the CRL
-- and API tokens for the RA's enrolment workstation.

CREATE TABLE payments (
	id {{ID}},
	application_id BIGINT NOT NULL REFERENCES applications(id),
	amount_yuan BIGINT NOT NULL,
	paid_on BIGINT NOT NULL,
	payer TEXT NOT NULL,
	bank_ref TEXT NOT NULL,
	note TEXT,
	recorded_by BIGINT NOT NULL REFERENCES accounts(id),
	recorded_at BIGINT NOT NULL
);
CREATE INDEX payments_application ON payments(application_id);

CREATE TABLE materials (
	id {{ID}},
	application_id BIGINT NOT NULL REFERENCES applications(id),
	checklist TEXT NOT NULL,        -- the items received, one per line
	recorded_by BIGINT NOT NULL REFERENCES accounts(id),
	recorded_at BIGINT NOT NULL
);
CREATE INDEX materials_application ON materials(application_id);

CREATE TABLE certificates (
	id {{ID}},
	serial TEXT NOT NULL UNIQUE,    -- lowercase hex
	application_id BIGINT REFERENCES applications(id),   -- holders' keys (RA flow)
	registration_id BIGINT REFERENCES registrations(id),
	account_id BIGINT REFERENCES accounts(id),           -- staff keys (espctl)
	token_serial TEXT NOT NULL,
	subject TEXT NOT NULL,
	pem TEXT NOT NULL,
	der {{BLOB}} NOT NULL,
	not_before BIGINT NOT NULL,
	not_after BIGINT NOT NULL,
	status TEXT NOT NULL,           -- valid | revoked
	revoked_at BIGINT,
	revoke_reason INTEGER,
	issued_by BIGINT REFERENCES accounts(id),
	created_at BIGINT NOT NULL
);
-- A retried request with the same token finds the certificate made before.
CREATE UNIQUE INDEX certificates_app_token ON certificates(application_id, token_serial);
-- One valid certificate per token.
CREATE UNIQUE INDEX certificates_token_valid ON certificates(token_serial) WHERE status = 'valid';
CREATE INDEX certificates_registration ON certificates(registration_id);

CREATE TABLE crl (
	id INTEGER PRIMARY KEY,         -- always 1
	number BIGINT NOT NULL,
	signed_at BIGINT NOT NULL,
	der {{BLOB}} NOT NULL
);

CREATE TABLE api_tokens (
	id {{ID}},
	account_id BIGINT NOT NULL REFERENCES accounts(id),
	name TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE, -- SHA-256 of the token; the token is shown once
	prefix TEXT NOT NULL,           -- first characters, to tell tokens apart
	created_at BIGINT NOT NULL,
	revoked_at BIGINT,
	last_used_at BIGINT
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);
