/* Store-backed rate limits: one atomic statement per reservation. */
#include "esp/ratelimit.h"
#include "esp/util.h"

#include <assert.h>
#include <string.h>

/* A new key, or a key whose window has ended, starts a window with count 1.
 * Inside an open window the count goes up by one until it passes the limit,
 * and then stays at limit + 1: refusals do not grow it, so a flood cannot
 * overflow it, and "count > limit" means refused. All SET expressions see
 * the row as it was, on SQLite and PostgreSQL alike; the row lock of
 * ON CONFLICT DO UPDATE (PostgreSQL) or the single writer (SQLite) makes
 * concurrent reservations of one key take their turns. */
static const char RESERVE_SQL[] =
    "INSERT INTO rate_limits (key, window_end, count) VALUES ($1, $2, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_limits.window_end <= $3 THEN 1 "
    "WHEN rate_limits.count > $4 THEN rate_limits.count "
    "ELSE rate_limits.count + 1 END, "
    "window_end = CASE WHEN rate_limits.window_end <= $3 THEN excluded.window_end "
    "ELSE rate_limits.window_end END "
    "RETURNING count, window_end";

struct reservation {
	const char *key;
	int limit, window_seconds;
	int64_t now;
	db_result *r;
};

static enum db_status reserve_once(db_conn *c, void *arg)
{
	struct reservation *x = arg;
	x->now = time_now();
	db_result_free(x->r);
	x->r = NULL;
	return DB_EXEC(c, RESERVE_SQL, &x->r, P_TEXT(x->key), P_INT(x->now + x->window_seconds),
	               P_INT(x->now), P_INT(x->limit));
}

enum db_status ratelimit_reserve(db_conn *c, const char *key, int limit, int window_seconds,
                                 struct ratelimit_verdict *v)
{
	int64_t now = time_now();
	*v = (struct ratelimit_verdict){.allowed = false, .retry_after = 1, .window_end = now + 1};
	if (limit <= 0) {
		v->allowed = true;
		v->retry_after = 0;
		return DB_OK;
	}
	if (window_seconds < 1)
		window_seconds = 1;
	struct reservation x = {.key = key, .limit = limit, .window_seconds = window_seconds};
	/* One statement on its own is the quick way. On SQLite it does not
	 * queue for the write lock as transactions do (db_sqlite.c): with many
	 * writers at once it can find the database busy past SQLite's own
	 * wait, and a login or registration would fail on its limit. Then it
	 * runs as a transaction, which queues and retries. Counting an attempt
	 * twice (a PostgreSQL session lost after the statement ran) errs on
	 * the safe side. */
	enum db_status st = reserve_once(c, &x);
	if (st == DB_RETRY)
		st = db_transaction(c, reserve_once, &x);
	if (st == DB_OK && x.r->nrows != 1)
		st = DB_ERROR;
	if (st != DB_OK) {
		db_result_free(x.r);
		return st;
	}
	now = x.now;
	v->count = (int)db_get_int(x.r, 0, 0, 0);
	v->window_end = db_get_int(x.r, 0, 1, now + window_seconds);
	db_result_free(x.r);
	assert(v->count >= 1);
	v->allowed = v->count <= limit;
	v->retry_after = v->allowed ? 0 : (v->window_end > now ? v->window_end - now : 1);
	return DB_OK;
}

enum db_status ratelimit_release(db_conn *c, const char *key, int limit,
                                 const struct ratelimit_verdict *v)
{
	if (limit <= 0 || !v->allowed)
		return DB_OK;
	/* A count held at limit + 1 stands for `limit` allowed events: one of
	 * them given back leaves limit - 1. The window must still be the one
	 * the slot was taken in, or the slot is gone already. */
	return DB_EXEC(c,
	               "UPDATE rate_limits SET count = CASE WHEN count > $2 THEN $2 - 1 "
	               "ELSE count - 1 END WHERE key = $1 AND window_end = $3 AND count > 0",
	               NULL, P_TEXT(key), P_INT(limit), P_INT(v->window_end));
}

enum db_status ratelimit_clear(db_conn *c, const char *key)
{
	return DB_EXEC(c, "DELETE FROM rate_limits WHERE key = $1", NULL, P_TEXT(key));
}

enum db_status ratelimit_purge(db_conn *c, int64_t now, int *deleted)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c, "DELETE FROM rate_limits WHERE window_end <= $1 RETURNING key", &r, P_INT(now));
	if (deleted)
		*deleted = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	return st;
}
