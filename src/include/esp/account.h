/*
 * Accounts, passwords and sessions (core/account.c): password logins with
 * their limits, staff accounts, and the session cookies.
 */
#ifndef ESP_ACCOUNT_H
#define ESP_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* ---- passwords and accounts ---- */
/* Argon2id via libsodium; cost "interactive" or "min" (tests). */
void password_set_cost(const char *cost);
char *password_hash(const char *password); /* caller frees */
bool password_verify(const char *hash, const char *password);

enum login_result {
	LOGIN_OK,
	LOGIN_BAD,
	LOGIN_LOCKED,
	LOGIN_DISABLED,
	LOGIN_STAFF_NEEDS_CERT,
	LOGIN_ERROR,
	LOGIN_ADDRESS_THROTTLED, /* too many failures from this address, any account */
	LOGIN_BUSY,              /* the store-wide cap of password checks per second, or no
	                          * password check free in time (pwslot.h) */
};
/* What password logins may cost and whom they may lock out; each count is
 * kept in the store (esp/ratelimit.h) and a limit <= 0 turns it off. */
struct login_limits {
	int per_user_address;  /* failures of one username from one address (login_max_failures) */
	int per_user;          /* failures of one username from any address */
	int per_address;       /* failures from one address, any username */
	int window_seconds;    /* of the three above (login_lockout_seconds) */
	int checks_per_second; /* password checks per second, every espd on the store */
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
                              const char *province_code, int64_t registration_id, int64_t *id_out);
/* The same with the password already hashed (password_hash): hashing takes
 * tens of milliseconds, so a transaction hashes before it begins, never
 * while it holds locks other writers wait for. */
enum db_status account_create_hashed(db_conn *c, const char *username, const char *hash,
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
enum db_status session_lookup(db_conn *c, struct arena *a, const char *cookie, struct actor *out,
                              char **csrf);
/* The same, reusing what an earlier lookup under the same sessions'
 * generation (generations_read) found; generation -1 always asks the store. */
enum db_status session_lookup_cached(db_conn *c, struct arena *a, const char *cookie,
                                     int64_t generation, struct actor *out, char **csrf);
enum db_status session_destroy(db_conn *c, const char *cookie);
/* Deletes the sessions that ended before now; *purged (may be NULL) gets
 * how many. Lookups already refuse them: this only keeps the table small. */
enum db_status session_purge_expired(db_conn *c, int64_t now, int *purged);

#endif
