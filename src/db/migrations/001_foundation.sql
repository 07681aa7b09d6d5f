-- Provinces, the authority tree, registrations (报名), accounts, sessions, audit log.
-- Runs on SQLite and PostgreSQL: {{ID}} and {{BLOB}} are the only engine words.

CREATE TABLE provinces (
	code TEXT PRIMARY KEY,          -- GB/T 2260 two digits; 新疆生产建设兵团 has "XJBT"
	name TEXT NOT NULL UNIQUE,
	sort INTEGER NOT NULL
);

CREATE TABLE authorities (
	id {{ID}},
	parent_id BIGINT REFERENCES authorities(id),
	name TEXT NOT NULL UNIQUE,
	province_code TEXT REFERENCES provinces(code),
	level TEXT NOT NULL,            -- ministry | provincial | river | city | county
	path TEXT NOT NULL DEFAULT '',  -- "/1/5/23/": ancestors and self, for subtree queries
	created_at BIGINT NOT NULL
);
CREATE INDEX authorities_parent ON authorities(parent_id);
CREATE INDEX authorities_path ON authorities(path);

CREATE TABLE registrations (
	id {{ID}},
	kind TEXT NOT NULL,             -- authority | agency | enterprise | evaluator
	state TEXT NOT NULL,            -- pending | approved | rejected
	authority_id BIGINT NOT NULL REFERENCES authorities(id), -- the competent authority that reviews
	province_code TEXT NOT NULL REFERENCES provinces(code),
	name TEXT NOT NULL,             -- unit name or person name
	code TEXT NOT NULL,             -- 统一社会信用代码 / 组织机构代码 / 身份证号码, normalised
	legal_rep TEXT,
	contact_name TEXT,
	contact_id_number TEXT,
	phone TEXT,
	mobile TEXT,
	email TEXT,
	address TEXT,
	postcode TEXT,
	category TEXT,                  -- enterprises: 业务类型
	grade TEXT,                     -- agencies: 一级/二级/三级
	work_unit TEXT,                 -- evaluators
	department TEXT,
	reject_reason TEXT,
	reviewed_by BIGINT,
	reviewed_at BIGINT,
	new_authority_id BIGINT REFERENCES authorities(id), -- authorities: the node made on approval
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX registrations_queue ON registrations(authority_id, state, created_at);
CREATE UNIQUE INDEX registrations_code_live ON registrations(code) WHERE state <> 'rejected';

CREATE TABLE accounts (
	id {{ID}},
	username TEXT NOT NULL UNIQUE,
	password_hash TEXT,
	role TEXT NOT NULL,             -- applicant | reviewer | ra | trainer | admin
	registration_id BIGINT REFERENCES registrations(id),
	authority_id BIGINT REFERENCES authorities(id),
	province_code TEXT REFERENCES provinces(code),
	display_name TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'active',  -- active | disabled
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX accounts_registration ON accounts(registration_id);

CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,       -- SHA-256 of the cookie value; the value itself is never stored
	account_id BIGINT NOT NULL REFERENCES accounts(id),
	csrf TEXT NOT NULL,
	method TEXT NOT NULL,           -- password | certificate | challenge
	cert_serial TEXT,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE audit_log (
	seq {{ID}},
	at BIGINT NOT NULL,
	actor_id BIGINT,
	actor TEXT NOT NULL,
	address TEXT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL,
	before_state TEXT NOT NULL,
	after_state TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);

CREATE TABLE settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- The numbers of the rules, kept in data so that one place holds them.
INSERT INTO settings (name, value) VALUES ('login_max_failures', '5');
INSERT INTO settings (name, value) VALUES ('login_lockout_seconds', '900');
INSERT INTO settings (name, value) VALUES ('delivery_days', '20');
INSERT INTO settings (name, value) VALUES ('expiry_warning_days', '60');
INSERT INTO settings (name, value) VALUES ('keys_per_application_max', '99');
INSERT INTO settings (name, value) VALUES ('scan_max_bytes', '10485760');
INSERT INTO settings (name, value) VALUES ('cert_validity_days', '1095');
INSERT INTO settings (name, value) VALUES ('password_min_length', '8');
