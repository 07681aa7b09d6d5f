/*
 * The outbox's delivery steps. Why a message is sent at most once and never
 * lost silently, step by step (the states are 011_outbox.sql's):
 *
 *  1. claim: pending → sending under a fresh lease token. Two workers
 *     racing for a row both run the same conditional UPDATE; one matches.
 *  2. Before the final "." of DATA, sending → committing, still only under
 *     our token. Until then the server holds an unfinished transaction that
 *     it discards when the connection drops (RFC 5321 4.1.1.4), so a worker
 *     killed before this step delivered nothing, and once its lease runs out
 *     the row is claimed again: no loss, no duplicate.
 *  3. The reply to the ".": 250 → sent; 4xx/5xx → the server refused it, so
 *     pending again (with backoff) or dead.
 *  4. A worker killed between 2 and 3 (or a link that breaks there) leaves
 *     committing: the server may or may not have taken the message, and
 *     SMTP offers no way to ask. Sending it again could deliver it twice;
 *     dropping it could lose it. Such a row becomes in_doubt when its lease
 *     runs out and waits for the admin, who can look at the mail server's
 *     log. The window is one round trip and one store write wide.
 *
 * A Message-ID per row and a receiving server that drops duplicates would
 * hide step 4 only from servers that do so; ESP does not count on it.
 */
#include "esp/outbox.h"
#include "esp/audit.h"
#include "esp/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400

void outbox_msg_clear(struct outbox_msg *m)
{
	free(m->params);
	memset(m, 0, sizeof *m);
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

#define DUE_SQL                                                                                    \
	"((state = 'pending' AND next_at <= $1) OR (state = 'sending' AND lease_until < $1))"

enum db_status outbox_claim(db_conn *c, int64_t now, int lease_seconds, const char *token,
                            struct outbox_msg *m)
{
	for (int tries = 0; tries < 8; tries++) {
		db_result *r = NULL;
		enum db_status st = DB_EXEC(
		    c, "SELECT id FROM outbox WHERE " DUE_SQL " ORDER BY next_at, id LIMIT 1", &r,
		    P_INT(now));
		if (st == DB_OK && r->nrows == 0)
			st = DB_NOT_FOUND;
		int64_t id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
		db_result_free(r);
		if (st != DB_OK)
			return st;
		r = NULL;
		/* The condition again: another worker may have taken it since. */
		st = DB_EXEC(
		    c,
		    "UPDATE outbox SET state = 'sending', lease_until = $2, lease_token = $3, "
		    "attempts = attempts + 1 WHERE id = $4 AND " DUE_SQL
		    " RETURNING kind, audience, recipient, params, attempts",
		    &r, P_INT(now), P_INT(now + lease_seconds), P_TEXT(token), P_INT(id));
		if (st == DB_OK && r->nrows == 1) {
			m->id = id;
			copy(m->kind, sizeof m->kind, db_get(r, 0, 0));
			copy(m->audience, sizeof m->audience, db_get(r, 0, 1));
			copy(m->recipient, sizeof m->recipient, db_get(r, 0, 2));
			m->params = xstrdup(db_get(r, 0, 3) ? db_get(r, 0, 3) : "{}");
			m->attempts = (int)db_get_int(r, 0, 4, 1);
		}
		bool won = st == DB_OK && r->nrows == 1;
		db_result_free(r);
		if (st != DB_OK || won)
			return st;
	}
	return DB_NOT_FOUND;
}

/* One conditional step of a row we hold: DB_CONFLICT when the row is no
 * longer ours (or not in `from`). */
static enum db_status step(db_conn *c, const char *sql, const struct db_param *p, int np)
{
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql, p, np, &r);
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	db_result_free(r);
	return st;
}
#define STEP(c, sql, ...)                                                                          \
	step((c), (sql), (const struct db_param[]){__VA_ARGS__},                                   \
	     (int)(sizeof((const struct db_param[]){__VA_ARGS__}) / sizeof(struct db_param)))

enum db_status outbox_committing(db_conn *c, int64_t id, const char *token)
{
	return STEP(c,
	            "UPDATE outbox SET state = 'committing' WHERE id = $1 AND lease_token = $2 "
	            "AND state = 'sending' RETURNING id",
	            P_INT(id), P_TEXT(token));
}

enum db_status outbox_sent(db_conn *c, int64_t id, const char *token, const char *reply)
{
	/* in_doubt too: our lease may have run out while the server was slow to
	 * answer, and the answer settles the doubt. */
	return STEP(c,
	            "UPDATE outbox SET state = 'sent', sent_at = $3, smtp_reply = $4, "
	            "last_error = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2 AND "
	            "state IN ('committing', 'in_doubt') RETURNING id",
	            P_INT(id), P_TEXT(token), P_INT(time_now()), P_TEXT(reply));
}

int64_t outbox_backoff(int attempts, int retry_seconds, int max_seconds)
{
	int64_t cap = max_seconds > 0 ? max_seconds : DAY;
	int64_t d = retry_seconds > 0 ? retry_seconds : 1;
	for (int i = 1; i < attempts && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

enum db_status outbox_failed(db_conn *c, int64_t id, const char *token, const char *error,
                             bool permanent, int64_t retry_after, int max_attempts)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, "SELECT attempts FROM outbox WHERE id = $1", &r, P_INT(id));
	int attempts = st == DB_OK && r->nrows ? (int)db_get_int(r, 0, 0, 1) : 1;
	db_result_free(r);
	if (st != DB_OK)
		return st;
	bool dead = permanent || attempts >= max_attempts;
	return STEP(
	    c,
	    "UPDATE outbox SET state = $3, next_at = $4, last_error = $5, lease_until = NULL "
	    "WHERE id = $1 AND lease_token = $2 AND state IN ('sending', 'committing', "
	    "'in_doubt') RETURNING id",
	    P_INT(id), P_TEXT(token), P_TEXT(dead ? "dead" : "pending"),
	    P_INT(time_now() + retry_after), P_TEXT(error));
}

enum db_status outbox_in_doubt(db_conn *c, int64_t id, const char *token, const char *error)
{
	return STEP(c,
	            "UPDATE outbox SET state = 'in_doubt', last_error = $3 WHERE id = $1 AND "
	            "lease_token = $2 AND state = 'committing' RETURNING id",
	            P_INT(id), P_TEXT(token), P_TEXT(error));
}

enum db_status outbox_expire(db_conn *c, int64_t now, int *n)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "UPDATE outbox SET state = 'in_doubt', last_error = $2 WHERE "
	            "state = 'committing' AND lease_until < $1 RETURNING id",
	            &r, P_INT(now), P_TEXT("发送中断：邮件服务器可能已经收到，未自动重发"));
	if (n)
		*n = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	return st;
}

/* ---- the admin's page ---- */

enum db_status outbox_counts(db_conn *c, struct outbox_counts *out)
{
	memset(out, 0, sizeof *out);
	db_result *r = NULL;
	enum db_status st = DB_EXEC0(c, "SELECT state, COUNT(*) FROM outbox GROUP BY state", &r);
	for (int i = 0; st == DB_OK && i < r->nrows; i++) {
		const char *s = db_get(r, i, 0);
		int64_t n = db_get_int(r, i, 1, 0);
		int64_t *slot = !strcmp(s, "pending")      ? &out->pending
		                : !strcmp(s, "sending")    ? &out->sending
		                : !strcmp(s, "committing") ? &out->committing
		                : !strcmp(s, "in_doubt")   ? &out->in_doubt
		                : !strcmp(s, "sent")       ? &out->sent
		                : !strcmp(s, "dead")       ? &out->dead
		                : !strcmp(s, "no_address") ? &out->no_address
		                                           : NULL;
		if (slot)
			*slot = n;
	}
	db_result_free(r);
	return st;
}

static const char *text(struct arena *a, const db_result *r, int i, int col)
{
	const char *v = db_get(r, i, col);
	return arena_strdup(a, v ? v : "");
}

enum db_status outbox_list(db_conn *c, struct arena *a, const char *state, int limit,
                           struct outbox_row **out, size_t *n)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT id, kind, audience, recipient, state, attempts, next_at, last_error, "
	            "created_at FROM outbox WHERE state = $1 ORDER BY id DESC LIMIT $2",
	            &r, P_TEXT(state), P_INT(limit));
	*out = NULL;
	*n = 0;
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct outbox_row){.id = db_get_int(r, i, 0, 0),
			                                .kind = text(a, r, i, 1),
			                                .audience = text(a, r, i, 2),
			                                .recipient = text(a, r, i, 3),
			                                .state = text(a, r, i, 4),
			                                .attempts = (int)db_get_int(r, i, 5, 0),
			                                .next_at = db_get_int(r, i, 6, 0),
			                                .last_error = text(a, r, i, 7),
			                                .created_at = db_get_int(r, i, 8, 0)};
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

struct decide_ctx {
	const struct actor *a;
	int64_t id;
	bool retry;
};

static enum db_status decide_tx(db_conn *c, void *arg)
{
	struct decide_ctx *d = arg;
	/* Both statements whole: the store prepares and caches each by its text. */
	const char *sql =
	    d->retry
	        ? "UPDATE outbox SET state = $2, attempts = 0, next_at = $3, lease_token = NULL, "
	          "lease_until = NULL, sent_at = $4 WHERE id = $1 AND state IN ('dead', "
	          "'in_doubt') RETURNING id"
	        : "UPDATE outbox SET state = $2, attempts = 0, next_at = $3, lease_token = NULL, "
	          "lease_until = NULL, sent_at = $4 WHERE id = $1 AND state = 'in_doubt' "
	          "RETURNING id";
	int64_t now = time_now();
	enum db_status st = STEP(c, sql, P_INT(d->id), P_TEXT(d->retry ? "pending" : "sent"),
	                         P_INT(now), d->retry ? P_NULL : P_INT(now));
	if (st != DB_OK)
		return st;
	char *obj = xasprintf("outbox:%lld", (long long)d->id);
	st = audit_append(c, d->a, d->retry ? "outbox.retry" : "outbox.delivered", obj, "",
	                  d->retry ? "pending" : "sent");
	free(obj);
	return st;
}

enum db_status outbox_retry(db_conn *c, const struct actor *a, int64_t id)
{
	struct decide_ctx d = {.a = a, .id = id, .retry = true};
	return db_transaction(c, decide_tx, &d);
}

enum db_status outbox_delivered(db_conn *c, const struct actor *a, int64_t id)
{
	struct decide_ctx d = {.a = a, .id = id, .retry = false};
	return db_transaction(c, decide_tx, &d);
}

struct retry_dead_ctx {
	const struct actor *a;
	int n;
};

static enum db_status retry_dead_tx(db_conn *c, void *arg)
{
	struct retry_dead_ctx *x = arg;
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "UPDATE outbox SET state = 'pending', attempts = 0, next_at = $1, "
	            "lease_token = NULL, lease_until = NULL WHERE state = 'dead' "
	            "RETURNING id",
	            &r, P_INT(time_now()));
	x->n = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	if (st != DB_OK || x->n == 0)
		return st;
	char *count = xasprintf("%d", x->n);
	st = audit_append(c, x->a, "outbox.retry_dead", "outbox", "dead", count);
	free(count);
	return st;
}

enum db_status outbox_retry_dead(db_conn *c, const struct actor *a, int *n)
{
	struct retry_dead_ctx x = {.a = a};
	enum db_status st = db_transaction(c, retry_dead_tx, &x);
	if (n)
		*n = st == DB_OK ? x.n : 0;
	return st;
}
