/*
 * The domain: who acts (struct actor), what they may do (policy_allows),
 * accounts and sessions, the authority tree, registrations (报名) and their
 * review (初审), and the audit log.  Used by espd and espctl alike; every
 * function takes a db_conn and does its own transaction where it writes.
 */
#ifndef ESP_CORE_H
#define ESP_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "esp/audit.h"
#include "esp/db.h"
#include "esp/util.h"

/* ---- the rules' numbers (settings table) ---- */
struct esp_limits {
	int login_max_failures;
	int login_lockout_seconds;
	int delivery_days;
	int expiry_warning_days;
	int keys_per_application_max;
	long scan_max_bytes;
	int cert_validity_days;
	int password_min_length;
};
/* Reads the settings table; missing rows keep the built-in defaults. */
void limits_load(db_conn *c, struct esp_limits *l);

/* ---- who acts ---- */
enum role { ROLE_NONE = 0, ROLE_APPLICANT, ROLE_REVIEWER, ROLE_RA, ROLE_TRAINER, ROLE_ADMIN };
const char *role_name(enum role r);        /* "applicant" ... */
const char *role_label(enum role r);       /* 申请人, 初审人员, 注册机构, 培训机构, 系统管理员 */
enum role role_parse(const char *s);
/* Where a signed-in actor of the role starts ("/status" ...); NULL for the
 * admin, whose start page is /home itself. */
const char *role_home(enum role r);

struct actor {
	int64_t account_id;
	enum role role;
	const char *username;
	const char *display_name;
	int64_t registration_id;     /* applicants */
	int64_t authority_id;        /* reviewers */
	const char *authority_path;  /* reviewers: "/1/5/" */
	const char *authority_name;
	const char *province_code;   /* ra, trainer */
	const char *address;         /* client address, for the audit log */
	const char *session_method;  /* password | certificate | challenge */
	const char *cert_serial;
	bool must_change_password;   /* an administrator reset the password */
};

/* ---- what they may do: the one place that decides ---- */
enum action {
	ACT_REGISTRATION_VIEW,     /* see a registration */
	ACT_REGISTRATION_EDIT,     /* correct and resubmit after rejection */
	ACT_REGISTRATION_DECIDE,   /* approve / reject */
	ACT_REVIEW_QUEUE,          /* see the 初审 queue */
	ACT_APPLICATION_CREATE,    /* apply for keys */
	ACT_APPLICATION_VIEW,      /* see an application and its scan */
	ACT_APPLICATION_OWN,       /* withdraw, print, payment page: the registrant */
	ACT_APPLICATION_RA,        /* record payment, return, issue, ship */
	ACT_APPLICATION_TRAINER,   /* evaluators' materials, hand out keys */
	ACT_CERT_REVOKE,           /* 挂失 */
	ACT_ADMIN,                 /* directory, fees, drivers, staff accounts */
	/* The actions of a route as a whole, asked by dispatch before the
	 * handler runs (no object); the handler asks the ones above with the
	 * record. */
	ACT_ANYONE,                /* public pages: anyone, signed in or not */
	ACT_SESSION,               /* anyone signed in (the record decides the rest) */
	ACT_REGISTRANT,            /* the pages of one's own registration: status, apply */
	ACT_OPERATOR,              /* the RA desk: RA, trainer, and the admin's overview */
	ACT_API_TOKENS,            /* the RA workstations' API tokens: RA and admin */
	ACT_MGMT,                  /* 管理系统: staff, and holders signed in with their key */
	ACT_COUNT
};

/* What the policy needs to know of the object acted on. */
struct policy_object {
	int64_t registration_id;
	const char *kind;            /* registration kind */
	const char *reg_state;       /* registration state */
	const char *authority_path;  /* path of the registration's competent authority */
	const char *province_code;   /* the registration's province */
};

bool policy_allows(const struct actor *a, enum action act, const struct policy_object *o);

/* ---- passwords and accounts ---- */
/* Argon2id via libsodium; cost "interactive" or "min" (tests). */
void password_set_cost(const char *cost);
char *password_hash(const char *password);           /* caller frees */
bool password_verify(const char *hash, const char *password);

enum login_result {
	LOGIN_OK, LOGIN_BAD, LOGIN_LOCKED, LOGIN_DISABLED, LOGIN_STAFF_NEEDS_CERT, LOGIN_ERROR,
	LOGIN_ADDRESS_THROTTLED, /* too many failures from this address, any account */
	LOGIN_BUSY,              /* the store-wide cap of password checks per second */
};
/* What password logins may cost and whom they may lock out; each count is
 * kept in the store (esp/ratelimit.h) and a limit <= 0 turns it off. */
struct login_limits {
	int per_user_address;   /* failures of one username from one address (login_max_failures) */
	int per_user;           /* failures of one username from any address */
	int per_address;        /* failures from one address, any username */
	int window_seconds;     /* of the three above (login_lockout_seconds) */
	int checks_per_second;  /* password checks per second, every espd on the store */
};
/* Checks username/password after reserving its slots of the limits (before
 * any hashing: parallel guesses never get more checks than the limits
 * allow). A right password clears the account's failures. On LOGIN_OK sets
 * *account_id; LOGIN_LOCKED, LOGIN_ADDRESS_THROTTLED and LOGIN_BUSY set
 * *retry_after (seconds). */
enum login_result account_login(db_conn *c, const struct login_limits *l, const char *address,
                                const char *username, const char *password,
                                bool staff_password_login, int64_t *account_id,
                                int64_t *retry_after);

/* Creates an account. Returns DB_OK, DB_CONFLICT (username taken) ... */
enum db_status account_create(db_conn *c, const char *username, const char *password,
                              enum role role, const char *display_name, int64_t authority_id,
                              const char *province_code, int64_t registration_id,
                              int64_t *id_out);
/* A staff account and its audit entry in one transaction. */
enum db_status staff_account_create(db_conn *c, const struct actor *a, const char *username,
                                    const char *password, enum role role, const char *name,
                                    int64_t authority_id, const char *province_code);
/* Enables or disables an account (disabling ends its sessions), audited. */
enum db_status account_set_status(db_conn *c, const char *username, const char *status);

/* The id of username (id may be NULL); DB_NOT_FOUND when there is none. */
enum db_status account_find(db_conn *c, const char *username, int64_t *id);
/* The role of an account; DB_NOT_FOUND (and ROLE_NONE) when there is none. */
enum db_status account_role(db_conn *c, int64_t id, enum role *role);
/* The applicant account of a registration; DB_NOT_FOUND when there is none. */
enum db_status account_by_registration(db_conn *c, int64_t registration_id, int64_t *id);

/* An account as the lists show it; "" for what it does not have. */
struct account_entry {
	const char *username;
	enum role role;
	const char *display_name;
	bool active; /* status "active"; else "disabled" */
	const char *authority_name;
	const char *province_code;
	const char *province_name;
};
/* One account by username (strings in arena); DB_NOT_FOUND when there is none. */
enum db_status account_get(db_conn *c, struct arena *a, const char *username,
                           struct account_entry *out);
/* Every account (staff_only: all but applicants), by role then username;
 * strings and *out in arena (*out NULL when *n is 0). */
enum db_status account_list(db_conn *c, struct arena *a, bool staff_only,
                            struct account_entry **out, size_t *n);

/* ---- password rules and changes (password.c) ---- */
/* The one password rule of every place a password is chosen (registration,
 * change, espctl): at least min_length characters, at most 128 bytes, not
 * the username, not one character repeated, not a run such as 12345678,
 * not a date such as a birthday, not on the list of common passwords
 * (data/common-passwords.txt). NULL when acceptable, else a Chinese
 * sentence saying why (static storage, or a copy in a when the message
 * names the length). */
const char *password_policy_check(struct arena *a, int min_length, const char *username,
                                  const char *password);
/* True when password (any case) is on the common-passwords list. */
bool password_is_common(const char *password);

enum password_change_result {
	PWCHANGE_OK,
	PWCHANGE_WRONG_CURRENT,  /* the current password does not match */
	PWCHANGE_WEAK,           /* *why says which rule */
	PWCHANGE_SAME,           /* the new password is the current one */
	PWCHANGE_NO_PASSWORD,    /* the account has no password (certificate only) */
	PWCHANGE_ERROR,
};
/* The holder changes its own password: checks the current one and the rule,
 * stores the new hash, clears must_change_password and ends every other
 * session of the account (all but the one whose cookie is keep_cookie),
 * audited, in one transaction. */
enum password_change_result account_password_change(db_conn *c, struct arena *a,
                                                     const struct esp_limits *l,
                                                     const struct actor *who,
                                                     const char *current, const char *new_password,
                                                     const char *keep_cookie, const char **why);
/* Sets username's password (no rule: the caller chose it) and whether it
 * must be changed at the next login; unlocks the account and ends all its
 * sessions; audited as action by `by`. DB_NOT_FOUND when no such account. */
enum db_status account_password_set(db_conn *c, const struct actor *by, const char *username,
                                    const char *password, bool must_change, const char *action);
/* An administrator's reset: a new random one-time password (*one_time,
 * caller wipes and frees) that must be changed at the next login. */
enum db_status account_password_reset(db_conn *c, const struct actor *by, const char *username,
                                      char **one_time);

/* ---- generations (007_generations.sql) ---- */
/* Counters that go up (by trigger) with every change to what a cache
 * derives from: the registrations' queues and the sessions. */
enum generation { GEN_REGISTRATIONS, GEN_SESSIONS, GEN_COUNT };
/* Reads them all in one statement; false on a store error (all set to -1). */
bool generations_read(db_conn *c, int64_t out[GEN_COUNT]);

/* ---- sessions ---- */
/* Sessions created from now on end after this many seconds without a
 * request (default 30 minutes), besides their absolute lifetime. */
void session_set_idle_seconds(int seconds);
/* New session that ends lifetime_seconds from now at the latest, or
 * sooner when idle; *cookie gets the cookie value (caller frees), *csrf too. */
enum db_status session_create(db_conn *c, int64_t account_id, const char *method,
                              const char *cert_serial, int lifetime_seconds, char **cookie,
                              char **csrf);
/* Loads the actor of a cookie (strings in arena) and notes the use (the
 * store's last_seen, about once a minute). DB_NOT_FOUND when absent,
 * expired, idle too long, the account disabled, or its certificate revoked. */
enum db_status session_lookup(db_conn *c, struct arena *a, const char *cookie,
                              struct actor *out, char **csrf);
/* The same, reusing what an earlier lookup under the same sessions'
 * generation (generations_read) found; generation -1 always asks the store. */
enum db_status session_lookup_cached(db_conn *c, struct arena *a, const char *cookie,
                                     int64_t generation, struct actor *out, char **csrf);
enum db_status session_destroy(db_conn *c, const char *cookie);
/* Deletes the sessions that ended before now; *purged (may be NULL) gets
 * how many. Lookups already refuse them: this only keeps the table small. */
enum db_status session_purge_expired(db_conn *c, int64_t now, int *purged);

/* ---- authority tree ---- */
/* JSON array of {id, name, province_code, province, level, depth} in tree order. */
json_t *authority_list(db_conn *c);
/* Loads name, path, province of one authority (arena). */
enum db_status authority_get(db_conn *c, struct arena *a, int64_t id, const char **name,
                             const char **path, const char **province_code);
/* Inserts a child authority and sets its path; run inside a transaction. */
enum db_status authority_insert(db_conn *c, int64_t parent_id, const char *name,
                                const char *province_code, const char *level, int64_t *id_out);
/* The name of an authority in the tree that is the same as name once folded
 * (text_fold: spaces, full-width and case do not count), malloc'ed, or NULL.
 * Reads every name: for the rare writes of authority names, not for pages. */
char *authority_same_name(db_conn *c, const char *name);
/* The first text in column 0 of r that folds to what name folds to
 * (malloc'ed), or NULL. */
char *names_find_folded(const db_result *r, const char *name);

/* ---- provinces ---- */
json_t *province_list(db_conn *c);   /* [{code, name}] */
bool province_exists(db_conn *c, const char *code);
/* The code of the province named name, or the name of the one coded code
 * (into arena); DB_NOT_FOUND when there is none. */
enum db_status province_code_of(db_conn *c, struct arena *a, const char *name, const char **code);
enum db_status province_name_of(db_conn *c, struct arena *a, const char *code, const char **name);

/* ---- audit log: esp/audit.h (included above) ---- */

/* ---- base data (espctl init) ---- */
/* Provinces, 交通运输部, the river authorities and one provincial authority per
 * province; in one transaction. DB_CONFLICT when already there. */
enum db_status seed_base(db_conn *c);
/* Authority id by exact name, 0 when absent. */
int64_t authority_by_name(db_conn *c, const char *name);

/* ---- settings ---- */
char *setting_get(db_conn *c, const char *name);  /* caller frees; NULL when absent */

#endif
