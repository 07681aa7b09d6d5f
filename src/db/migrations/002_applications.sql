-- Certificate key applications (证书U盘申请), their scans, the fee schedule
-- and the RA directory.

CREATE TABLE fee_schedule (
	id {{ID}},
	price_yuan BIGINT NOT NULL,     -- per set (one key, 3 years)
	medium_yuan BIGINT NOT NULL,    -- of which the token itself
	years INTEGER NOT NULL,
	valid_from BIGINT NOT NULL,     -- unix time; the newest row not in the future applies
	created_by BIGINT REFERENCES accounts(id),
	created_at BIGINT NOT NULL
);
INSERT INTO fee_schedule (price_yuan, medium_yuan, years, valid_from, created_at)
	VALUES (660, 80, 3, 0, 0);

CREATE TABLE ra_directory (
	province_code TEXT PRIMARY KEY REFERENCES provinces(code),
	ra_name TEXT NOT NULL DEFAULT '',
	payee TEXT NOT NULL DEFAULT '',
	bank TEXT NOT NULL DEFAULT '',
	account_no TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT '',
	postcode TEXT NOT NULL DEFAULT '',
	recipient TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	trainer_name TEXT NOT NULL DEFAULT '',
	trainer_address TEXT NOT NULL DEFAULT '',
	trainer_phone TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE uploads (
	id {{ID}},
	registration_id BIGINT NOT NULL REFERENCES registrations(id),
	mime TEXT NOT NULL,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	data {{BLOB}} NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX uploads_registration ON uploads(registration_id);

CREATE TABLE number_seq (
	year INTEGER PRIMARY KEY,
	last BIGINT NOT NULL
);

CREATE TABLE applications (
	id {{ID}},
	number TEXT NOT NULL UNIQUE,        -- ESP-YYYY-NNNNNN
	registration_id BIGINT NOT NULL REFERENCES registrations(id),
	type TEXT NOT NULL,                 -- initial (初次办理) | additional (增加数量)
	state TEXT NOT NULL,
	sets INTEGER NOT NULL,
	contact_name TEXT NOT NULL,
	contact_id_number TEXT,
	mobile TEXT NOT NULL,
	phone TEXT,
	email TEXT NOT NULL,
	address TEXT NOT NULL,
	postcode TEXT NOT NULL,
	invoice_title TEXT,
	taxpayer_id TEXT,
	price_yuan BIGINT NOT NULL,         -- fixed when submitted: a later fee change never alters it
	medium_yuan BIGINT NOT NULL,
	years INTEGER NOT NULL,
	amount_yuan BIGINT NOT NULL,
	scan_id BIGINT REFERENCES uploads(id),
	idem_key TEXT NOT NULL UNIQUE,      -- one form, one application (double click, reload, back)
	submitted_at BIGINT NOT NULL,
	paid_at BIGINT,
	materials_at BIGINT,
	issued_at BIGINT,
	shipped_at BIGINT,
	pickup_at BIGINT,
	received_at BIGINT,
	returned_at BIGINT,
	return_reason TEXT,
	withdrawn_at BIGINT,
	courier TEXT,
	tracking_no TEXT,
	updated_at BIGINT NOT NULL
);
CREATE INDEX applications_registration ON applications(registration_id);
CREATE INDEX applications_state ON applications(state, submitted_at);

CREATE TABLE application_events (
	id {{ID}},
	application_id BIGINT NOT NULL REFERENCES applications(id),
	at BIGINT NOT NULL,
	actor_id BIGINT REFERENCES accounts(id),
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	note TEXT
);
CREATE INDEX application_events_app ON application_events(application_id, at);
