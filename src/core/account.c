/* Passwords (Argon2id), password login with its rate limits, and sessions. */
#include "esp/account.h"
#include "esp/cache_stats.h"
#include "esp/ratelimit.h"
#include "esp/audit.h"
#include "esp/pwslot.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

void password_set_cost(const char *cost)
{
	if (cost && strcmp(cost, "min") == 0) {
		pw_ops = crypto_pwhash_OPSLIMIT_MIN;
		pw_mem = crypto_pwhash_MEMLIMIT_MIN;
	}
}

char *password_hash(const char *password)
{
	char *out = xmalloc(crypto_pwhash_STRBYTES);
	/* Paths that did not take a slot (rare: an administrator's reset, a
	 * password change) wait for one: the bound holds for every hash. */
	pwslot_enter(false);
	int e = crypto_pwhash_str_alg(out, password, strlen(password), pw_ops, pw_mem,
	                              crypto_pwhash_ALG_ARGON2ID13);
	pwslot_leave();
	if (e != 0) {
		log_error("password hashing failed (out of memory?)");
		abort();
	}
	return out;
}

bool password_verify(const char *hash, const char *password)
{
	if (!hash || !password)
		return false;
	pwslot_enter(false);
	bool ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	pwslot_leave();
	return ok;
}

/* Verifying against this when the user does not exist keeps the timing of
 * "no such user" and "wrong password" alike. */
static const char *dummy_hash(void)
{
	static char *h;
	static int once;
	if (!__atomic_load_n(&once, __ATOMIC_ACQUIRE)) {
		char *x = password_hash("esp-dummy-password");
		char *expected = NULL;
		if (!__atomic_compare_exchange_n(&h, &expected, x, false, __ATOMIC_ACQ_REL,
		                                 __ATOMIC_ACQUIRE))
			free(x);
		__atomic_store_n(&once, 1, __ATOMIC_RELEASE);
	}
	return h;
}

/* The keys of one attempt, in the order they are reserved. The store-wide
 * cap comes first: a request it refuses adds no row, however many
 * addresses and user names a flood uses. The others add at most one row
 * per new address, user name and pair, deleted when their windows end. */
enum { KEY_CHECKS, KEY_ADDRESS, KEY_USER_ADDRESS, KEY_USER, NKEYS };

struct attempt {
	char *key[NKEYS];
	int limit[NKEYS];
	struct ratelimit_verdict v[NKEYS];
	int reserved; /* keys 0 .. reserved-1 hold a slot */
};

static void attempt_keys(struct attempt *a, const struct login_limits *l, const char *address,
                         const char *username)
{
	a->key[KEY_USER_ADDRESS] = xasprintf("login:user-addr:%s|%s", username, address);
	a->key[KEY_USER] = xasprintf("login:user:%s", username);
	a->key[KEY_ADDRESS] = xasprintf("login:addr:%s", address);
	a->key[KEY_CHECKS] = xstrdup("login:checks");
	a->limit[KEY_USER_ADDRESS] = l->per_user_address;
	a->limit[KEY_USER] = l->per_user;
	a->limit[KEY_ADDRESS] = l->per_address;
	a->limit[KEY_CHECKS] = l->checks_per_second;
}

static void attempt_free(struct attempt *a)
{
	for (int i = 0; i < NKEYS; i++)
		free(a->key[i]);
}

/* Gives back the slots of keys from..reserved-1. */
static void attempt_release(db_conn *c, struct attempt *a, int from)
{
	for (int i = from; i < a->reserved; i++)
		ratelimit_release(c, a->key[i], a->limit[i], &a->v[i]);
}

/* Reserves a slot of every key before any password is hashed, so that
 * parallel guesses are counted before they are checked: at most the limit
 * of them are ever checked. A refusal gives back the slots taken. */
static enum login_result attempt_reserve(db_conn *c, struct attempt *a,
                                         const struct login_limits *l, int64_t *retry_after)
{
	for (int i = 0; i < NKEYS; i++) {
		int window = i == KEY_CHECKS ? 1 : l->window_seconds;
		if (ratelimit_reserve(c, a->key[i], a->limit[i], window, &a->v[i]) != DB_OK) {
			attempt_release(c, a, 0);
			return LOGIN_ERROR;
		}
		if (!a->v[i].allowed) {
			attempt_release(c, a, 0);
			*retry_after = a->v[i].retry_after;
			return i == KEY_CHECKS    ? LOGIN_BUSY
			       : i == KEY_ADDRESS ? LOGIN_ADDRESS_THROTTLED
			                          : LOGIN_LOCKED;
		}
		a->reserved = i + 1;
	}
	return LOGIN_OK;
}

/* A wrong password keeps its slots. The one that fills an account's
 * window locks it at once, as the rules say (5 failures: 15 minutes). */
static enum login_result attempt_failed(struct attempt *a, int64_t *retry_after)
{
	int64_t now = time_now();
	for (int i = KEY_USER_ADDRESS; i <= KEY_USER; i++)
		if (a->limit[i] > 0 && a->v[i].count >= a->limit[i]) {
			*retry_after = a->v[i].window_end > now ? a->v[i].window_end - now : 1;
			return LOGIN_LOCKED;
		}
	return LOGIN_BAD;
}

/* The right password: the account's failures are forgotten (they were
 * not in a row); the address keeps its other failures but not this one;
 * the check itself was spent. */
static void attempt_succeeded(db_conn *c, struct attempt *a)
{
	ratelimit_clear(c, a->key[KEY_USER_ADDRESS]);
	ratelimit_clear(c, a->key[KEY_USER]);
	ratelimit_release(c, a->key[KEY_ADDRESS], a->limit[KEY_ADDRESS], &a->v[KEY_ADDRESS]);
}

/* The password check proper; counts nothing. */
static enum login_result password_check(db_conn *c, const char *username, const char *password,
                                        bool staff_password_login, int64_t *account_id)
{
	db_result *r = NULL;
	if (DB_EXEC(c, "SELECT id, password_hash, role, status FROM accounts WHERE username = $1",
	            &r, P_TEXT(username)) != DB_OK)
		return LOGIN_ERROR;
	/* The check holds 64 MiB while it runs: only so many at once, and a
	 * request that finds none free in time is told to come back
	 * (pwslot.c). Taken after the read, so no store connection waits. */
	if (!pwslot_enter(true)) {
		db_result_free(r);
		return LOGIN_BUSY;
	}
	enum login_result res = LOGIN_BAD;
	if (r->nrows == 0) {
		password_verify(dummy_hash(), password);
		db_result_free(r);
		pwslot_leave();
		return res;
	}
	int64_t id = db_get_int(r, 0, 0, 0);
	char *hash = xstrdup(db_get(r, 0, 1) ? db_get(r, 0, 1) : "");
	enum role role = role_parse(db_get(r, 0, 2));
	bool disabled = strcmp(db_get(r, 0, 3), "active") != 0;
	db_result_free(r);

	bool verified = password_verify(hash, password);
	pwslot_leave();
	if (!verified)
		res = LOGIN_BAD;
	else if (disabled)
		res = LOGIN_DISABLED;
	else if (role != ROLE_APPLICANT && !staff_password_login)
		res = LOGIN_STAFF_NEEDS_CERT;
	else {
		*account_id = id;
		res = LOGIN_OK;
	}
	sodium_memzero(hash, strlen(hash));
	free(hash);
	return res;
}

enum login_result account_login(db_conn *c, const struct login_limits *l, const char *address,
                                const char *username, const char *password,
                                bool staff_password_login, int64_t *account_id,
                                int64_t *retry_after)
{
	*retry_after = 0;
	struct attempt a = {0};
	attempt_keys(&a, l, address ? address : "", username);
	enum login_result res = attempt_reserve(c, &a, l, retry_after);
	if (res == LOGIN_OK) {
		res = password_check(c, username, password, staff_password_login, account_id);
		if (res == LOGIN_BUSY)
			*retry_after = 1; /* no password check free in time: not a failure */
		if (res == LOGIN_BAD)
			res = attempt_failed(&a, retry_after);
		else if (res != LOGIN_ERROR && res != LOGIN_BUSY)
			attempt_succeeded(c, &a);
		else
			attempt_release(c, &a, 0);
	}
	attempt_free(&a);
	return res;
}

enum db_status account_create(db_conn *c, const char *username, const char *password,
                              enum role role, const char *display_name, int64_t authority_id,
                              const char *province_code, int64_t registration_id, int64_t *id_out)
{
	char *hash = password ? password_hash(password) : NULL;
	enum db_status st =
	    account_create_hashed(c, username, hash, role, display_name, authority_id,
	                          province_code, registration_id, id_out);
	free(hash);
	return st;
}

enum db_status account_create_hashed(db_conn *c, const char *username, const char *hash,
                                     enum role role, const char *display_name, int64_t authority_id,
                                     const char *province_code, int64_t registration_id,
                                     int64_t *id_out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO accounts (username, password_hash, role, display_name, authority_id, "
	    "province_code, registration_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
	    "RETURNING id",
	    &r, P_TEXT(username), P_TEXT(hash), P_TEXT(role_name(role)),
	    P_TEXT(display_name ? display_name : ""), authority_id ? P_INT(authority_id) : P_NULL,
	    P_TEXT(province_code && *province_code ? province_code : NULL),
	    registration_id ? P_INT(registration_id) : P_NULL, P_INT(time_now()));
	if (st == DB_OK && id_out)
		*id_out = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return st;
}

struct create_ctx {
	const struct actor *a;
	const char *username, *hash, *name, *province;
	enum role role;
	int64_t authority_id;
};

static enum db_status create_audited_tx(db_conn *c, void *arg)
{
	struct create_ctx *x = arg;
	enum db_status st = account_create_hashed(c, x->username, x->hash, x->role, x->name,
	                                          x->authority_id, x->province, 0, NULL);
	if (st != DB_OK)
		return st;
	char *obj = xasprintf("account:%s", x->username);
	st = audit_append(c, x->a, "account.create", obj, "", role_name(x->role));
	free(obj);
	return st;
}

enum db_status staff_account_create(db_conn *c, const struct actor *a, const char *username,
                                    const char *password, enum role role, const char *name,
                                    int64_t authority_id, const char *province_code)
{
	char *hash = password ? password_hash(password) : NULL;
	struct create_ctx x = {.a = a,
	                       .username = username,
	                       .hash = hash,
	                       .role = role,
	                       .name = name,
	                       .authority_id = authority_id,
	                       .province = province_code};
	enum db_status st = db_transaction(c, create_audited_tx, &x);
	free(hash);
	return st;
}

struct status_ctx {
	const char *username, *status;
};

static enum db_status set_status_tx(db_conn *c, void *arg)
{
	struct status_ctx *x = arg;
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "UPDATE accounts SET status = $1 WHERE username = $2 RETURNING id", &r,
	            P_TEXT(x->status), P_TEXT(x->username));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	/* A disabled account's open sessions end with it. */
	if (st == DB_OK && strcmp(x->status, "active") != 0)
		st = DB_EXEC(c, "DELETE FROM sessions WHERE account_id = $1", NULL,
		             P_INT(db_get_int(r, 0, 0, 0)));
	db_result_free(r);
	if (st != DB_OK)
		return st;
	struct actor admin_tool = {.username = "espctl"};
	char *obj = xasprintf("account:%s", x->username);
	st = audit_append(c, &admin_tool, "account.status", obj, "", x->status);
	free(obj);
	return st;
}

enum db_status account_set_status(db_conn *c, const char *username, const char *status)
{
	struct status_ctx x = {.username = username, .status = status};
	return db_transaction(c, set_status_tx, &x);
}

enum db_status account_find(db_conn *c, const char *username, int64_t *id)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT id FROM accounts WHERE username = $1", &r, P_TEXT(username));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK && id)
		*id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return st;
}

enum db_status account_role(db_conn *c, int64_t id, enum role *role)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, "SELECT role FROM accounts WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	*role = st == DB_OK ? role_parse(db_get(r, 0, 0)) : ROLE_NONE;
	db_result_free(r);
	return st;
}

enum db_status account_by_registration(db_conn *c, int64_t registration_id, int64_t *id)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, "SELECT id FROM accounts WHERE registration_id = $1", &r,
	                            P_INT(registration_id));
	/* One account per registration (a unique column): more is no answer. */
	if (st == DB_OK && r->nrows != 1)
		st = DB_NOT_FOUND;
	*id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
	db_result_free(r);
	return st;
}

#define ACCOUNT_ENTRY_COLUMNS                                                                      \
	"SELECT a.username, a.role, a.display_name, a.status, COALESCE(au.name, ''), "             \
	"COALESCE(a.province_code, ''), COALESCE(p.name, '') FROM accounts a "                     \
	"LEFT JOIN authorities au ON au.id = a.authority_id "                                      \
	"LEFT JOIN provinces p ON p.code = a.province_code "

static void account_entry_row(struct arena *a, const db_result *r, int i, struct account_entry *e)
{
	*e = (struct account_entry){
	    .username = arena_strdup(a, db_get(r, i, 0)),
	    .role = role_parse(db_get(r, i, 1)),
	    .display_name = arena_strdup(a, db_get(r, i, 2)),
	    .active = strcmp(db_get(r, i, 3), "active") == 0,
	    .authority_name = arena_strdup(a, db_get(r, i, 4)),
	    .province_code = arena_strdup(a, db_get(r, i, 5)),
	    .province_name = arena_strdup(a, db_get(r, i, 6)),
	};
}

enum db_status account_get(db_conn *c, struct arena *a, const char *username,
                           struct account_entry *out)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, ACCOUNT_ENTRY_COLUMNS "WHERE a.username = $1", &r, P_TEXT(username));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		account_entry_row(a, r, 0, out);
	db_result_free(r);
	return st;
}

enum db_status account_list(db_conn *c, struct arena *a, bool staff_only,
                            struct account_entry **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC(c,
	                            ACCOUNT_ENTRY_COLUMNS "WHERE $1 = 0 OR a.role <> 'applicant' "
	                                                  "ORDER BY a.role, a.username",
	                            &r, P_INT(staff_only));
	if (st == DB_OK && r->nrows > 0) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++)
			account_entry_row(a, r, i, &(*out)[i]);
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

/* ---- sessions: the cookie holds 256 random bits; the store only its hash ---- */

/* Every session ends after this long without a request (session_idle_minutes). */
static int idle_seconds = 30 * 60;

void session_set_idle_seconds(int seconds)
{
	if (seconds > 0)
		idle_seconds = seconds;
}

/* last_seen moves at most once a minute, so that an active user costs one
 * write a minute, not one per request; an idle time shorter than four
 * minutes (tests) moves it more often so that it stays within a quarter of
 * the idle time of the truth. */
static bool touch_due(int64_t last_seen, int64_t idle, int64_t now)
{
	int64_t every = idle >= 240 ? 60 : idle / 4;
	return now > last_seen && now - last_seen >= every;
}

/* Moves last_seen forward; never back (another espd may have moved it). */
static void session_touch(db_conn *c, const char *hash, int64_t now)
{
	DB_EXEC(c, "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2 AND last_seen < $1", NULL,
	        P_INT(now), P_TEXT(hash));
}

enum db_status session_create(db_conn *c, int64_t account_id, const char *method,
                              const char *cert_serial, int lifetime_seconds, char **cookie,
                              char **csrf)
{
	char *tok = random_token(32);
	char *csrf_tok = random_token(24);
	char hash[65];
	sha256_hex(tok, strlen(tok), hash);
	int64_t now = time_now();
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO sessions (id_hash, account_id, csrf, method, cert_serial, created_at, "
	    "expires_at, last_seen, idle_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8)",
	    NULL, P_TEXT(hash), P_INT(account_id), P_TEXT(csrf_tok), P_TEXT(method),
	    P_TEXT(cert_serial), P_INT(now), P_INT(now + lifetime_seconds),
	    P_INT(idle_seconds < lifetime_seconds ? idle_seconds : lifetime_seconds));
	if (st != DB_OK) {
		free(tok);
		free(csrf_tok);
		return st;
	}
	*cookie = tok;
	if (csrf)
		*csrf = csrf_tok;
	else
		free(csrf_tok);
	return DB_OK;
}

/* When a session ends by itself: at valid_until (its absolute expiry or
 * its certificate's), or idle seconds after last_seen. */
struct session_time {
	int64_t valid_until, last_seen, idle;
};

static bool session_time_ok(const struct session_time *t, int64_t now)
{
	return t->valid_until >= now && t->last_seen + t->idle >= now;
}

/* Loads the session whose cookie hashes to hash, and moves its last_seen
 * when due (t->last_seen then tells the new value). */
static enum db_status session_load(db_conn *c, struct arena *a, const char *hash, struct actor *out,
                                   char **csrf, struct session_time *t)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT a.id, a.role, a.username, a.display_name, a.registration_id, au.id, "
	    "au.path, au.name, a.province_code, s.csrf, s.method, s.cert_serial, a.status, "
	    "s.expires_at, ce.status, ce.not_after, s.last_seen, s.idle_seconds, "
	    "a.must_change_password FROM sessions s JOIN accounts a ON a.id = s.account_id "
	    /* An approved authority's holder stands for its node of the tree
	     * (the policy lets it review that subtree, with its key). */
	    "LEFT JOIN registrations rg ON rg.id = a.registration_id AND rg.kind = 'authority' "
	    "AND rg.state = 'approved' "
	    "LEFT JOIN authorities au ON au.id = COALESCE(a.authority_id, rg.new_authority_id) "
	    "LEFT JOIN certificates ce ON ce.serial = s.cert_serial WHERE s.id_hash = $1",
	    &r, P_TEXT(hash));
	if (st != DB_OK)
		return st;
	/* A session opened with a key lives only as long as the key is good: a
	 * certificate revoked (挂失) or expired ends it on the next request. */
	int64_t now = time_now();
	bool cert_bad = r->nrows && db_get(r, 0, 11) &&
	                (!db_get(r, 0, 14) || strcmp(db_get(r, 0, 14), "valid") != 0 ||
	                 db_get_int(r, 0, 15, 0) < now);
	if (r->nrows) {
		t->valid_until = db_get_int(r, 0, 13, 0);
		if (db_get(r, 0, 11) && db_get_int(r, 0, 15, 0) < t->valid_until)
			t->valid_until = db_get_int(r, 0, 15, 0);
		t->last_seen = db_get_int(r, 0, 16, 0);
		t->idle = db_get_int(r, 0, 17, 0);
	}
	if (r->nrows == 0 || strcmp(db_get(r, 0, 12), "active") != 0 ||
	    db_get_int(r, 0, 13, 0) < now || t->last_seen + t->idle < now || cert_bad) {
		if (r->nrows && cert_bad)
			DB_EXEC(c, "DELETE FROM sessions WHERE id_hash = $1", NULL, P_TEXT(hash));
		db_result_free(r);
		return DB_NOT_FOUND;
	}
	memset(out, 0, sizeof(*out));
	out->account_id = db_get_int(r, 0, 0, 0);
	out->role = role_parse(db_get(r, 0, 1));
	out->username = arena_strdup(a, db_get(r, 0, 2));
	out->display_name = arena_strdup(a, db_get(r, 0, 3));
	out->registration_id = db_get_int(r, 0, 4, 0);
	out->authority_id = db_get_int(r, 0, 5, 0);
	out->authority_path = arena_strdup(a, db_get(r, 0, 6));
	out->authority_name = arena_strdup(a, db_get(r, 0, 7));
	out->province_code = arena_strdup(a, db_get(r, 0, 8));
	if (csrf)
		*csrf = arena_strdup(a, db_get(r, 0, 9));
	out->session_method = arena_strdup(a, db_get(r, 0, 10));
	out->cert_serial = arena_strdup(a, db_get(r, 0, 11));
	out->must_change_password = db_get_int(r, 0, 18, 0) != 0;
	db_result_free(r);
	if (touch_due(t->last_seen, t->idle, now)) {
		session_touch(c, hash, now);
		t->last_seen = now;
	}
	return DB_OK;
}

#define COOKIE_MIN 20
#define COOKIE_MAX 100

/* The last cookie each thread hashed, and its hash: a kept-alive client
 * sends the same cookie with every request, and its SHA-256 was half of
 * what espd added to a cached page beyond libmicrohttpd (under valgrind,
 * which has no SHA instructions; ~100 ns on the CPU). Compared in constant
 * time: how long the comparison takes must not tell anyone how much of
 * another user's cookie their own shares. */
static _Thread_local struct {
	size_t len; /* 0: none */
	char cookie[COOKIE_MAX];
	char hash[65];
} last_cookie;

/* Whether a and b hold the same n bytes, in a time that depends on n only
 * (a word at a time: sodium_memcmp's byte loop cost as much as the rest of
 * the session lookup). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t d = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	for (; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool cookie_hash(const char *cookie, char hash[65])
{
	size_t n = cookie ? strlen(cookie) : 0;
	if (n < COOKIE_MIN || n > COOKIE_MAX)
		return false;
	if (last_cookie.len == n && same_bytes(last_cookie.cookie, cookie, n)) {
		memcpy(hash, last_cookie.hash, 65);
		return true;
	}
	sha256_hex(cookie, n, hash);
	memcpy(last_cookie.cookie, cookie, n);
	memcpy(last_cookie.hash, hash, 65);
	last_cookie.len = n;
	return true;
}

enum db_status session_lookup(db_conn *c, struct arena *a, const char *cookie, struct actor *out,
                              char **csrf)
{
	char hash[65];
	struct session_time t;
	if (!cookie_hash(cookie, hash))
		return DB_NOT_FOUND;
	return session_load(c, a, hash, out, csrf, &t);
}

/* Sessions looked up, by cookie hash, each with the sessions' generation
 * it was read under: every change that could alter a lookup's answer bumps
 * that generation (007_generations.sql), and time limits are checked on
 * every use, so a hit answers exactly what the store would. Idle time is
 * judged by the last_seen the entry knows, never later than the store's
 * (only ever moved forward): an entry past its idle time asks the store,
 * which another espd may have kept alive. The strings of an entry live in
 * one block of its own. */
#define SESSION_CACHE 1024
#define SESSION_LOCKS 16
enum {
	S_USERNAME,
	S_DISPLAY,
	S_PATH,
	S_AUTHORITY,
	S_PROVINCE,
	S_METHOD,
	S_SERIAL,
	S_CSRF,
	S_COUNT
};
static struct session_slot {
	char hash[65];
	int64_t generation;
	struct session_time time;
	struct actor actor; /* its string members are NULL: see str */
	char *block;
	size_t block_len;
	const char *str[S_COUNT]; /* in block, or NULL */
} session_cache[SESSION_CACHE];
static pthread_mutex_t session_locks[SESSION_LOCKS] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER};

static void actor_strings(struct actor *ac, const char ***slots)
{
	slots[S_USERNAME] = &ac->username;
	slots[S_DISPLAY] = &ac->display_name;
	slots[S_PATH] = &ac->authority_path;
	slots[S_AUTHORITY] = &ac->authority_name;
	slots[S_PROVINCE] = &ac->province_code;
	slots[S_METHOD] = &ac->session_method;
	slots[S_SERIAL] = &ac->cert_serial;
}

static void cache_store(unsigned i, const char *hash, int64_t generation,
                        const struct session_time *t, const struct actor *ac, const char *csrf)
{
	/* The entry keeps no pointer into the caller's memory (its arena):
	 * the strings move into one block of its own. */
	struct actor stored = *ac;
	const char **field[S_COUNT];
	actor_strings(&stored, field);
	const char *val[S_COUNT];
	for (int k = 0; k < S_CSRF; k++) {
		val[k] = *field[k];
		*field[k] = NULL;
	}
	val[S_CSRF] = csrf;
	stored.address = NULL;
	size_t total = 0;
	for (int k = 0; k < S_COUNT; k++)
		total += val[k] ? strlen(val[k]) + 1 : 0;
	size_t block_len = total ? total : 1;
	char *block = xmalloc(block_len), *p = block;
	const char *str[S_COUNT];
	for (int k = 0; k < S_COUNT; k++) {
		str[k] = NULL;
		if (val[k]) {
			size_t n = strlen(val[k]) + 1;
			memcpy(p, val[k], n);
			str[k] = p;
			p += n;
		}
	}
	pthread_mutex_t *lock = &session_locks[i % SESSION_LOCKS];
	pthread_mutex_lock(lock);
	struct session_slot *e = &session_cache[i];
	char *old = e->block;
	memcpy(e->hash, hash, sizeof e->hash);
	e->generation = generation;
	e->time = *t;
	e->actor = stored;
	e->block = block;
	e->block_len = block_len;
	memcpy(e->str, str, sizeof str);
	pthread_mutex_unlock(lock);
	free(old);
}

/* A hit fills out, *csrf and *t (the entry's times). */
static bool cache_find(unsigned i, struct arena *a, const char *hash, int64_t generation,
                       int64_t now, struct actor *out, char **csrf, struct session_time *t)
{
	bool hit = false;
	pthread_mutex_t *lock = &session_locks[i % SESSION_LOCKS];
	pthread_mutex_lock(lock);
	struct session_slot *e = &session_cache[i];
	if (e->block && e->generation == generation && session_time_ok(&e->time, now) &&
	    strcmp(e->hash, hash) == 0) {
		*t = e->time;
		*out = e->actor;
		const char **to[S_COUNT];
		actor_strings(out, to);
		const char *csrf_copy = NULL;
		to[S_CSRF] = &csrf_copy;
		/* The strings lie end to end in the block: one copy of it. */
		char *copy = arena_alloc(a, e->block_len);
		memcpy(copy, e->block, e->block_len);
		for (int k = 0; k < S_COUNT; k++)
			*to[k] = e->str[k] ? copy + (e->str[k] - e->block) : NULL;
		if (csrf)
			*csrf = (char *)csrf_copy;
		hit = true;
	}
	pthread_mutex_unlock(lock);
	return hit;
}

/* The slot of a cookie's hash: the hash is SHA-256, already uniform, so
 * its first three hex digits do (hashing its 64 characters again took
 * 400 instructions a request). */
static unsigned cache_index(const char *hash)
{
	_Static_assert(4096 % SESSION_CACHE == 0, "three hex digits spread evenly over the slots");
	unsigned v = 0;
	for (int k = 0; k < 3; k++) {
		char c = hash[k];
		v = v << 4 | (unsigned)(c >= 'a' ? c - 'a' + 10 : c - '0');
	}
	return v % SESSION_CACHE;
}

/* Records that the store's last_seen of hash moved to now. */
static void cache_touched(unsigned i, const char *hash, int64_t now)
{
	pthread_mutex_t *lock = &session_locks[i % SESSION_LOCKS];
	pthread_mutex_lock(lock);
	struct session_slot *e = &session_cache[i];
	if (e->block && strcmp(e->hash, hash) == 0 && e->time.last_seen < now)
		e->time.last_seen = now;
	pthread_mutex_unlock(lock);
}

enum db_status session_lookup_cached(db_conn *c, struct arena *a, const char *cookie,
                                     int64_t generation, struct actor *out, char **csrf)
{
	char hash[65];
	if (!cookie_hash(cookie, hash))
		return DB_NOT_FOUND;
	struct session_time t;
	if (generation < 0)
		return session_load(c, a, hash, out, csrf, &t);
	unsigned i = cache_index(hash);
	int64_t now = time_now();
	bool hit = cache_find(i, a, hash, generation, now, out, csrf, &t);
	cache_stat(CACHE_SESSIONS, hit);
	if (hit) {
		if (touch_due(t.last_seen, t.idle, now)) {
			session_touch(c, hash, now);
			cache_touched(i, hash, now);
		}
		return DB_OK;
	}
	char *csrf_own = NULL;
	enum db_status st = session_load(c, a, hash, out, &csrf_own, &t);
	if (st == DB_OK) {
		cache_store(i, hash, generation, &t, out, csrf_own);
		if (csrf)
			*csrf = csrf_own;
	}
	return st;
}

enum db_status session_purge_expired(db_conn *c, int64_t now, int *purged)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "DELETE FROM sessions WHERE expires_at < $1 OR last_seen + idle_seconds < $1 "
	            "RETURNING id_hash",
	            &r, P_INT(now));
	if (purged)
		*purged = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	return st;
}

enum db_status session_destroy(db_conn *c, const char *cookie)
{
	if (!cookie)
		return DB_OK;
	char hash[65];
	sha256_hex(cookie, strlen(cookie), hash);
	return DB_EXEC(c, "DELETE FROM sessions WHERE id_hash = $1", NULL, P_TEXT(hash));
}
