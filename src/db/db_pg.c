/*
 * The PostgreSQL engine of the store (libpq).
 *
 * Every statement run through exec is prepared once per connection and kept
 * in a small cache keyed by its SQL text; the names are "s1", "s2", ...
 * Parameters are bound (integers and text as text, blobs in binary format),
 * results come back in text format, and bytea columns are decoded into raw
 * bytes before they go into the db_result.
 *
 * SQLSTATEs are mapped onto db_status: serialization failures and deadlocks
 * ask the caller to retry, unique / foreign key / check violations are
 * conflicts, everything else is an error logged here with the first
 * characters of the SQL (never the parameters: they may hold secrets).
 *
 * A connection found broken (CONNECTION_BAD) outside a transaction is reset
 * on its next use and its statement cache emptied; inside a transaction it
 * fails (DB_RETRY: the transaction runs again) until rollback, so no
 * statement silently runs outside the transaction it was written for. With
 * a multi-host connection string and target_session_attrs=read-write the
 * reset finds whichever server is the primary now (docs/failover.md).
 *
 * A statement outside a transaction that fails because the server is gone
 * runs once more on a new connection, so an idle pooled connection does
 * not cost a request after a failover: when the session was found ended
 * before the statement was sent (pg_idle_check), when the server says the
 * statement did not run (57P01-57P03 ended the session and rolled back,
 * 25006 refused a write on a standby: the new connection then asks for
 * target_session_attrs=read-write), or when it is a SELECT, which changes
 * nothing if it did run. A write cut off without a word from the server
 * may have committed: it is not run twice (503, as before).
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "esp/db.h"
#include "esp/util.h"

#include "db_pg_listen.h"

#define PG_BYTEAOID 17      /* pg_type.oid of bytea */
#define PG_LOG_SQL_CHARS 60 /* how much of a failing statement is logged */
#define PG_CACHE_MIN_BUCKETS 64
#define PG_RECONNECT_TRIES 3 /* sessions ended while set up before "busy" */

struct pg_stmt {
	struct pg_stmt *next; /* bucket chain */
	uint64_t hash;
	char *sql;
	char name[24]; /* "s<n>" */
};

struct db_conn {
	const struct db_backend *backend; /* always &db_pg_backend */
	PGconn *pg;
	bool in_tx;      /* between begin and commit/rollback */
	char *target;    /* the connection string, for a read-write reconnect */
	bool need_rw;    /* a write was refused as read-only: reconnect (25006) */
	bool lost;       /* the last failure was the server gone (pg_server_gone) */
	bool lost_unrun; /* ... and the server said the statement did not run */
	/* The server sent FATAL while no statement ran (pg_notice): the session
	 * is over, though the end of its stream may not have arrived yet. */
	bool ended;
	/* Set by pg_run around one attempt: whether a lost server's statement
	 * runs again on a new session, and so is not logged as failed. */
	enum { RERUN_NO, RERUN_IF_GONE, RERUN_IF_UNRUN } rerun;
	struct pg_stmt **buckets;
	size_t nbuckets, nstmts;
	uint64_t next_stmt; /* numbers "s1", "s2"... within this session */
};

/* ---- prepared statement cache ---------------------------------------- */

static void pg_cache_clear(db_conn *c)
{
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct pg_stmt *s = c->buckets[b];
		while (s) {
			struct pg_stmt *next = s->next;
			free(s->sql);
			free(s);
			s = next;
		}
		c->buckets[b] = NULL;
	}
	c->nstmts = 0;
	/* A new session (after PQreset) has no prepared statements, so the
	 * names may start again; keeping them growing is equally fine. */
}

static struct pg_stmt *pg_cache_find(const db_conn *c, const char *sql, uint64_t h)
{
	for (struct pg_stmt *s = c->buckets[h % c->nbuckets]; s; s = s->next)
		if (s->hash == h && strcmp(s->sql, sql) == 0)
			return s;
	return NULL;
}

static void pg_cache_grow(db_conn *c)
{
	size_t n = c->nbuckets * 2;
	struct pg_stmt **nb = xcalloc(n, sizeof(*nb));
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct pg_stmt *s = c->buckets[b];
		while (s) {
			struct pg_stmt *next = s->next;
			s->next = nb[s->hash % n];
			nb[s->hash % n] = s;
			s = next;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

static struct pg_stmt *pg_cache_add(db_conn *c, const char *sql, uint64_t h, const char *name)
{
	if (c->nstmts + 1 > c->nbuckets * 2)
		pg_cache_grow(c);
	struct pg_stmt *s = xcalloc(1, sizeof(*s));
	s->hash = h;
	s->sql = xstrdup(sql);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->next = c->buckets[h % c->nbuckets];
	c->buckets[h % c->nbuckets] = s;
	c->nstmts++;
	return s;
}

/* Forget one statement (the server dropped it or its plan went stale). */
static void pg_cache_remove(db_conn *c, const struct pg_stmt *gone)
{
	struct pg_stmt **pp = &c->buckets[gone->hash % c->nbuckets];
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == gone) {
			struct pg_stmt *s = *pp;
			*pp = s->next;
			free(s->sql);
			free(s);
			c->nstmts--;
			return;
		}
	}
}

/* ---- errors ----------------------------------------------------------- */

/* libpq messages end in a newline (sometimes several lines): log the first. */
static void pg_log_sql(const char *what, const char *sqlstate, const char *msg, const char *sql)
{
	if (!msg || !*msg)
		msg = "no message";
	int msglen = (int)strcspn(msg, "\n");
	if (!sql) {
		log_error("postgresql: %s failed: %.*s", what, msglen, msg);
		return;
	}
	log_error("postgresql: %s failed: [%s] %.*s (sql: %.*s%s)", what,
	          sqlstate ? sqlstate : "-----", msglen, msg, PG_LOG_SQL_CHARS, sql,
	          strlen(sql) > PG_LOG_SQL_CHARS ? "..." : "");
}

/* Class 08 (connection exception), 57P01-57P03 (administrator shutdown,
 * crash shutdown, cannot connect now), 25006 (read-only transaction: we
 * reached a standby), or no server error at all with the connection down. */
static bool pg_server_gone(const db_conn *c, const char *state)
{
	if (!state)
		return PQstatus(c->pg) == CONNECTION_BAD;
	return !strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	       !strcmp(state, "57P03") || !strcmp(state, "25006");
}

/*
 * Map a failed result onto a status; log the errors that are ours.  Only the
 * primary message is logged: DETAIL lines repeat row values ("Key (email)=
 * (...) already exists", "Failing row contains ..."), and data exceptions
 * (class 22) quote the offending input, so for those only the code is logged.
 */
static enum db_status pg_fail(db_conn *c, const PGresult *r, const char *what, const char *sql)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	c->lost = pg_server_gone(c, state);
	c->lost_unrun = c->lost && state && (!strncmp(state, "57P0", 4) || !strcmp(state, "25006"));
	/* Still connected, but to a server that takes no writes (a standby
	 * after a failover, or a conninfo without target_session_attrs). */
	if (state && !strcmp(state, "25006"))
		c->need_rw = true;
	/* The server went away (stopped, failed over) or is not the writable
	 * primary any more: what this statement did is lost with its
	 * transaction, and the connection is reset on its next use, finding
	 * the new primary (target_session_attrs=read-write). Retried by
	 * db_transaction; a single statement reports "busy" (503). */
	if (pg_server_gone(c, state)) {
		/* A statement that runs again on a new session has cost nothing
		 * yet: pg_run says so at info, and a reconnect that fails logs. */
		bool rerun =
		    c->rerun == RERUN_IF_GONE || (c->rerun == RERUN_IF_UNRUN && c->lost_unrun);
		if (!rerun)
			pg_log_sql(what, state,
			           state ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
			                 : PQerrorMessage(c->pg),
			           sql);
		return DB_RETRY;
	}
	if (state) {
		if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
			return DB_RETRY;
		if (!strcmp(state, "23505") || !strcmp(state, "23503") || !strcmp(state, "23514"))
			return DB_CONFLICT;
	}
	const char *msg;
	if (state && !strncmp(state, "22", 2))
		msg = "data exception (message withheld: it may quote a parameter)";
	else if (state)
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	else
		msg = PQerrorMessage(c->pg); /* no server error: connection trouble */
	pg_log_sql(what, state, msg, sql);
	return DB_ERROR;
}

/* Log WARNINGs from the server; drop NOTICEs ("... already exists, skipping").
 * A FATAL that arrives between statements (pg_terminate_backend, a server
 * stopping) comes this way too: it ends the session. */
static void pg_notice(void *arg, const PGresult *r)
{
	db_conn *c = arg;
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC")))
		c->ended = true;
	if (sev && !strcmp(sev, "WARNING")) {
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		log_error("postgresql: server warning: %s", msg ? msg : "");
	}
}

/* ---- connection ------------------------------------------------------- */

static enum db_status pg_setup_session(db_conn *c, const char **err)
{
	PQsetNoticeReceiver(c->pg, pg_notice, c);
	if (PQsetClientEncoding(c->pg, "UTF8") != 0) {
		if (err)
			*err = "PostgreSQL: cannot set client encoding UTF8";
		return DB_ERROR;
	}
	/* An acknowledged write must survive the server's crash: a server (or
	 * role) set to synchronous_commit = off may lose its last commits, so
	 * such a session is set to on.  local, remote_write, on and remote_apply
	 * are the administrator's choice and kept. */
	PGresult *r = PQexec(c->pg, "SHOW synchronous_commit");
	bool off = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	           strcmp(PQgetvalue(r, 0, 0), "off") == 0;
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (ok && off) {
		r = PQexec(c->pg, "SET synchronous_commit = on");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok) {
		if (err)
			*err = "PostgreSQL: cannot read or set synchronous_commit";
		return DB_ERROR;
	}
	return DB_OK;
}

static enum db_status pg_reconnect(db_conn *c, const char *sql);

/*
 * Make sure the connection is usable.  A broken one is reset, unless a
 * transaction was open on it: that transaction is lost, and running the rest
 * of its statements in autocommit mode would be wrong, so we fail until the
 * caller rolls back.
 */
static enum db_status pg_ensure(db_conn *c, const char *sql)
{
	if (PQstatus(c->pg) != CONNECTION_BAD && !c->need_rw && !c->ended)
		return DB_OK;
	if (c->in_tx) {
		/* Never committed: the whole transaction may run again. */
		pg_log_sql("statement in lost transaction", NULL, "connection lost", sql);
		return DB_RETRY;
	}
	return pg_reconnect(c, sql);
}

/* One new session: a writable server asked for when a write was refused as
 * read-only, else the same options again. */
static enum db_status pg_reconnect_once(db_conn *c, const char *sql, bool quiet, bool *ended)
{
	*ended = false;
	c->ended = false;
	pg_cache_clear(c);
	if (c->need_rw) {
		/* PQreset would reconnect with the same options, perhaps to the
		 * same standby: ask for a writable server, whatever the string says
		 * (later keywords override the expanded connection string). */
		const char *const keys[] = {"dbname", "target_session_attrs", NULL};
		const char *const vals[] = {c->target, "read-write", NULL};
		PGconn *n = PQconnectdbParams(keys, vals, 1);
		if (!n) {
			pg_log_sql("reconnect", NULL, "out of memory", sql);
			return DB_RETRY;
		}
		PQfinish(c->pg);
		c->pg = n;
		c->need_rw = false;
	} else {
		PQreset(c->pg);
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		/* No writable server yet (a standby being promoted): busy, and
		 * the next use tries again. */
		pg_log_sql("reconnect", NULL, PQerrorMessage(c->pg), sql);
		return DB_RETRY;
	}
	if (pg_setup_session(c, NULL) == DB_OK)
		return DB_OK;
	/* The new session ended before it was set up (the server stopping
	 * or ending sessions again, as a failover or an administrator does):
	 * as busy as no server at all, and worth another try. */
	bool gone = PQstatus(c->pg) != CONNECTION_OK;
	*ended = gone;
	if (!quiet || !gone)
		pg_log_sql("reconnect", NULL,
		           gone ? "the new session ended while it was set up"
		                : "cannot set up the session",
		           sql);
	return gone ? DB_RETRY : DB_ERROR;
}

/* A new session (outside any transaction). A session that the server ends
 * again while it is being set up is not yet a failure: a few more are
 * tried before the caller hears "busy". */
static enum db_status pg_reconnect(db_conn *c, const char *sql)
{
	enum db_status st = DB_RETRY;
	bool ended = true;
	for (int attempt = 0; ended && attempt < PG_RECONNECT_TRIES; attempt++)
		st = pg_reconnect_once(c, sql, attempt + 1 < PG_RECONNECT_TRIES, &ended);
	return st;
}

static db_conn *pg_open(const char *target, const char **err)
{
	if (err)
		*err = NULL;
	db_conn *c = xcalloc(1, sizeof(*c));
	c->backend = &db_pg_backend;
	c->nbuckets = PG_CACHE_MIN_BUCKETS;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	c->pg = PQconnectdb(target);
	if (!c->pg) {
		if (err)
			*err = "PostgreSQL: out of memory while connecting";
		free(c->buckets);
		free(c);
		return NULL;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		/* libpq's message names host and port, not the password. */
		pg_log_sql("connect", NULL, PQerrorMessage(c->pg), NULL);
		if (err)
			*err = "PostgreSQL: cannot connect";
		PQfinish(c->pg);
		free(c->buckets);
		free(c);
		return NULL;
	}
	if (pg_setup_session(c, err) != DB_OK) {
		PQfinish(c->pg);
		free(c->buckets);
		free(c);
		return NULL;
	}
	c->target = xstrdup(target);
	return c;
}

static void pg_close(db_conn *c)
{
	if (!c)
		return;
	pg_cache_clear(c);
	free(c->buckets);
	PQfinish(c->pg);
	if (c->target) {
		/* It may hold the password. */
		explicit_bzero(c->target, strlen(c->target));
		free(c->target);
	}
	free(c);
}

/* ---- statements ------------------------------------------------------- */

/* A connection idle in the pool whose server ended the session (stopped,
 * failed over, pg_terminate_backend) has its last message and the end of
 * the stream waiting on the socket.  Reading them now marks it broken, so
 * pg_ensure reconnects before the statement is sent and nothing is in
 * doubt.  One poll() when nothing is waiting. */
static void pg_idle_check(db_conn *c)
{
	if (c->in_tx || PQstatus(c->pg) != CONNECTION_OK)
		return;
	int fd = PQsocket(c->pg);
	/* A message, then the end of the stream: a few reads at most. */
	for (int i = 0; i < 4 && fd >= 0; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0 || !PQconsumeInput(c->pg))
			return;
	}
}

/* A statement that changes nothing even if it ran before the connection
 * broke. */
static bool pg_read_only(const char *sql)
{
	while (*sql == ' ' || *sql == '\t' || *sql == '\n')
		sql++;
	return strncasecmp(sql, "SELECT", 6) == 0;
}

static db_result *pg_make_result(const PGresult *r)
{
	int ncols = PQnfields(r), nrows = PQntuples(r);
	db_result *res = db_result_new(ncols);
	for (int col = 0; col < ncols; col++) {
		free(res->names[col]);
		res->names[col] = xstrdup(PQfname(r, col));
	}
	for (int row = 0; row < nrows; row++) {
		db_result_add_row(res);
		for (int col = 0; col < ncols; col++) {
			if (PQgetisnull(r, row, col))
				continue;
			const char *v = PQgetvalue(r, row, col);
			if (PQftype(r, col) == PG_BYTEAOID) {
				size_t n = 0;
				unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
				if (!raw) {
					log_error("postgresql: out of memory decoding bytea");
					abort();
				}
				db_result_set(res, row, col, raw, n);
				PQfreemem(raw);
			} else {
				db_result_set(res, row, col, v, (size_t)PQgetlength(r, row, col));
			}
		}
	}
	return res;
}

/* Find or prepare the statement for sql; NULL after logging on failure. */
static struct pg_stmt *pg_prepare(db_conn *c, const char *sql, int nparams, enum db_status *st)
{
	uint64_t h = str_hash64(sql);
	struct pg_stmt *s = pg_cache_find(c, sql, h);
	if (s)
		return s;
	char name[24];
	snprintf(name, sizeof(name), "s%" PRIu64, ++c->next_stmt);
	PGresult *r = PQprepare(c->pg, name, sql, nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		*st = pg_fail(c, r, "prepare", sql);
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	return pg_cache_add(c, sql, h, name);
}

/* After a lost server outside a transaction: a new session, on which the
 * statement runs once more.  False when none can be had yet (the standby
 * not promoted yet): the statement then fails as before. */
static bool pg_reconnect_for_retry(db_conn *c, const char *sql)
{
	/* 57P0x can arrive before libpq has read the end of the stream: the
	 * session is over all the same. */
	if (pg_reconnect(c, sql) != DB_OK)
		return false;
	log_info("postgresql: reconnected after the server ended the session; statement run again "
	         "(sql: %.*s)",
	         PG_LOG_SQL_CHARS, sql);
	return true;
}

/* once: planned for these values and not kept (db_exec_once), else
 * prepared once per connection and run by name. */
static enum db_status pg_run(db_conn *c, const char *sql, const struct db_param *params,
                             int nparams, db_result **res, bool once)
{
	if (res)
		*res = NULL;
	if (nparams < 0 || (nparams > 0 && !params)) {
		pg_log_sql("exec", NULL, "bad parameter list", sql);
		return DB_ERROR;
	}
	pg_idle_check(c);
	enum db_status st = pg_ensure(c, sql);
	if (st != DB_OK)
		return st;

	/* One block for the parameter arrays and the integers' text. */
	size_t n = (size_t)nparams;
	const char **values = xcalloc(n, sizeof(*values));
	int *lengths = xcalloc(n, sizeof(*lengths));
	int *formats = xcalloc(n, sizeof(*formats));
	char(*ints)[24] = xcalloc(n, sizeof(*ints));
	for (size_t i = 0; i < n; i++) {
		const struct db_param *p = &params[i];
		switch (p->type) {
		case DB_NULL:
			values[i] = NULL;
			break;
		case DB_INT:
			snprintf(ints[i], sizeof(ints[i]), "%" PRId64, p->i);
			values[i] = ints[i];
			break;
		case DB_TEXT:
			values[i] = p->s;
			break;
		case DB_BLOB:
			if (p->len > (size_t)INT32_MAX) {
				pg_log_sql("exec", NULL, "blob parameter too large", sql);
				st = DB_ERROR;
				goto out;
			}
			if (!p->s && p->len) {
				pg_log_sql("exec", NULL, "blob parameter without bytes", sql);
				st = DB_ERROR;
				goto out;
			}
			/* An empty blob must still be non-NULL, or it is SQL NULL. */
			values[i] = p->s ? p->s : "";
			lengths[i] = (int)p->len;
			formats[i] = 1;
			break;
		default:
			pg_log_sql("exec", NULL, "unknown parameter type", sql);
			st = DB_ERROR;
			goto out;
		}
	}

	/* A cached statement can vanish (DISCARD, a reset we did not see) or
	 * go stale (its result type changed after a migration); outside a
	 * transaction it is prepared again once. */
	bool reconnected = false;
	for (int attempt = 0;; attempt++) {
		bool idle = !c->in_tx && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
		c->lost = false;
		/* The conditions of the reruns below. */
		c->rerun = idle && !reconnected ? RERUN_IF_GONE : RERUN_NO;
		struct pg_stmt *s = once ? NULL : pg_prepare(c, sql, nparams, &st);
		c->rerun = RERUN_NO;
		if (!once && !s) {
			/* Preparing changes nothing: a lost server is simply retried. */
			if (idle && c->lost && !reconnected && pg_reconnect_for_retry(c, sql)) {
				reconnected = true;
				continue;
			}
			goto out;
		}
		PGresult *r =
		    once ? PQexecParams(c->pg, sql, nparams, NULL, values, lengths, formats, 0)
		         : PQexecPrepared(c->pg, s->name, nparams, values, lengths, formats, 0);
		ExecStatusType rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			if (res)
				*res = pg_make_result(r);
			PQclear(r);
			st = DB_OK;
			goto out;
		}
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		bool stale = state && (!strcmp(state, "26000") || !strcmp(state, "0A000"));
		if (stale && s) {
			pg_cache_remove(c, s);
			if (idle && attempt == 0) {
				PQclear(r);
				continue;
			}
		}
		c->rerun = !idle || reconnected ? RERUN_NO
		           : pg_read_only(sql)  ? RERUN_IF_GONE
		                                : RERUN_IF_UNRUN;
		st = pg_fail(c, r, "exec", sql);
		c->rerun = RERUN_NO;
		PQclear(r);
		if (idle && c->lost && !reconnected && (c->lost_unrun || pg_read_only(sql)) &&
		    pg_reconnect_for_retry(c, sql)) {
			reconnected = true;
			continue;
		}
		goto out;
	}
out:
	free(values);
	free(lengths);
	free(formats);
	free(ints);
	/* A write of its own committed (or may have, when it failed): this
	 * process must not wait for its notification (db_pg_listen.c). */
	if (!c->in_tx && !pg_read_only(sql))
		pg_listen_bump();
	return st;
}

static enum db_status pg_exec(db_conn *c, const char *sql, const struct db_param *params,
                              int nparams, db_result **res)
{
	return pg_run(c, sql, params, nparams, res, false);
}

static enum db_status pg_exec_once(db_conn *c, const char *sql, const struct db_param *params,
                                   int nparams, db_result **res)
{
	return pg_run(c, sql, params, nparams, res, true);
}

/* A simple query (no parameters): scripts and transaction control. */
static enum db_status pg_simple(db_conn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c->pg, sql);
	ExecStatusType rs = PQresultStatus(r);
	enum db_status st = DB_OK;
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK && rs != PGRES_EMPTY_QUERY)
		st = pg_fail(c, r, what, sql);
	PQclear(r);
	return st;
}

static enum db_status pg_exec_script(db_conn *c, const char *sql)
{
	enum db_status st = pg_ensure(c, sql);
	if (st != DB_OK)
		return st;
	st = pg_simple(c, sql, "script");
	if (!c->in_tx)
		pg_listen_bump();
	/* The schema may have changed under cached plans; most survive, a
	 * stale one is dropped and prepared again by pg_exec. */
	return st;
}

static enum db_status pg_begin(db_conn *c)
{
	const char *sql = "BEGIN ISOLATION LEVEL SERIALIZABLE";
	pg_idle_check(c);
	enum db_status st = pg_ensure(c, sql);
	if (st != DB_OK)
		return st;
	st = pg_simple(c, sql, "begin");
	if (st == DB_OK)
		c->in_tx = true;
	return st;
}

static enum db_status pg_commit(db_conn *c)
{
	const char *sql = "COMMIT";
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		pg_log_sql("commit", NULL, "connection lost", sql);
		return DB_ERROR; /* in_tx stays set until rollback */
	}
	PGresult *r = PQexec(c->pg, sql);
	enum db_status st;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		st = pg_fail(c, r, "commit", sql);
		/* Lost while committing: it may have committed. Running the
		 * transaction again could write it twice; the caller answers
		 * with an error and the client checks. */
		if (st == DB_RETRY && pg_server_gone(c, PQresultErrorField(r, PG_DIAG_SQLSTATE)))
			st = DB_ERROR;
	} else if (!strcmp(PQcmdStatus(r), "ROLLBACK")) {
		/* COMMIT of an aborted transaction: the server rolled it back.
		 * An earlier statement failed and the body ignored it. */
		pg_log_sql("commit", NULL, "transaction was aborted, rolled back", sql);
		st = DB_ERROR;
	} else {
		st = DB_OK;
	}
	PQclear(r);
	/* Committed, or perhaps (lost on the way): the caches of this process
	 * see it from here, before the request that wrote answers, not only
	 * once the notification has come back (db_pg_listen.c). */
	pg_listen_bump();
	/* Whether it committed or failed, no transaction is open any more,
	 * except when the connection broke: rollback then resets it. */
	if (PQstatus(c->pg) != CONNECTION_BAD)
		c->in_tx = false;
	return st;
}

static enum db_status pg_rollback(db_conn *c)
{
	c->in_tx = false;
	if (PQstatus(c->pg) == CONNECTION_BAD)
		return pg_ensure(c, "ROLLBACK"); /* the transaction died with it */
	if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
		return DB_OK;
	return pg_simple(c, "ROLLBACK", "rollback");
}

/* The listening connection's epoch (db_pg_listen.c), outside a
 * transaction: inside one, the statement reads the transaction's snapshot,
 * which a mark cannot stand for. */
static bool pg_commit_mark(db_conn *c, struct db_mark *m)
{
	uint64_t e;
	if (c->in_tx || !pg_listen_mark(&e))
		return false;
	memset(m, 0, sizeof *m);
	m->header[0] = (uint32_t)e;
	m->header[1] = (uint32_t)(e >> 32);
	return true;
}

const struct db_backend db_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_once = pg_exec_once,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .commit_mark = pg_commit_mark,
};
