/*
 * Engine-independent half of the store: the connection pool, migrations,
 * transactions with retry, and the materialised result type.
 */
#include "esp/db.h"
#include "esp/util.h"

#include "db_pg_listen.h"

#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set in this thread when the store was too busy to answer in time; see
 * db_store_busy(). A request runs in one worker thread from start to end. */
static _Thread_local bool store_busy;

bool db_store_busy(void)
{
	return store_busy;
}
void db_store_busy_reset(void)
{
	store_busy = false;
}

/* Since the start, for /metrics (db_stats): every statement that failed,
 * every one locked out (busy/serialization), every transaction run again. */
static uint64_t stat_errors, stat_busy, stat_tx_retries;

void db_stats(struct db_stats *out)
{
	out->errors = __atomic_load_n(&stat_errors, __ATOMIC_RELAXED);
	out->busy = __atomic_load_n(&stat_busy, __ATOMIC_RELAXED);
	out->tx_retries = __atomic_load_n(&stat_tx_retries, __ATOMIC_RELAXED);
}

struct db_pool {
	const struct db_backend *be;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	db_conn **idle;
	int nidle, size;
	char *target;
	db_conn *writer; /* see db_backend.share_writer; NULL when unused */
};

static const struct db_backend *backend_for(const char *target)
{
	if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0)
		return &db_pg_backend;
	return &db_sqlite_backend;
}

db_pool *db_pool_open(const char *target, int size, const char **err)
{
	db_pool *p = xcalloc(1, sizeof(*p));
	p->be = backend_for(target);
	p->size = size > 0 ? size : 1;
	p->idle = xcalloc((size_t)p->size, sizeof(db_conn *));
	p->target = xstrdup(target);
	pthread_mutex_init(&p->lock, NULL);
	/* Timed waits (db_acquire_wait) count on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (p->be->share_writer && !(p->writer = p->be->open(target, err))) {
		db_pool_close(p);
		return NULL;
	}
	for (int i = 0; i < p->size; i++) {
		db_conn *c = p->be->open(target, err);
		if (!c) {
			db_pool_close(p);
			return NULL;
		}
		if (p->writer)
			p->be->share_writer(c, p->writer);
		p->idle[p->nidle++] = c;
	}
	return p;
}

void db_pool_close(db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nidle; i++)
		p->be->close(p->idle[i]);
	if (p->writer)
		p->be->close(p->writer);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->idle);
	free(p->target);
	free(p);
}

const struct db_backend *db_pool_backend(const db_pool *p)
{
	return p->be;
}

void db_checkpoint(db_pool *p)
{
	if (p->be != &db_sqlite_backend)
		return;
	/* Requests come first: when every connection is busy, the next second
	 * tries again. */
	db_conn *c = db_acquire_wait(p, 100);
	if (!c)
		return;
	p->be->exec_script(c, "PRAGMA wal_checkpoint(PASSIVE)");
	db_release(p, c);
}

db_conn *db_acquire(db_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0)
		pthread_cond_wait(&p->cond, &p->lock);
	db_conn *c = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return c;
}

db_conn *db_try_acquire(db_pool *p)
{
	db_conn *c = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		c = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return c;
}

db_conn *db_acquire_wait(db_pool *p, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	db_conn *c = NULL;
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT)
			break;
	if (p->nidle > 0)
		c = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	if (!c)
		store_busy = true;
	return c;
}

void db_release(db_pool *p, db_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = c;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Each connection remembers its backend in its first member, so db_exec can
 * dispatch without the pool. */
struct db_conn_head {
	const struct db_backend *be;
};

/* A statement's outcome, counted for /metrics. */
static enum db_status exec_counted(enum db_status st)
{
	/* Locked out by another writer for longer than the busy timeout: if
	 * the caller fails because of it, the answer is "busy", not "broken". */
	if (st == DB_RETRY)
		store_busy = true;
	if (st == DB_RETRY)
		__atomic_add_fetch(&stat_busy, 1, __ATOMIC_RELAXED);
	else if (st == DB_ERROR)
		__atomic_add_fetch(&stat_errors, 1, __ATOMIC_RELAXED);
	return st;
}

enum db_status db_exec(db_conn *c, const char *sql, const struct db_param *params, int nparams,
                       db_result **res)
{
	const struct db_backend *be = ((struct db_conn_head *)c)->be;
	if (res)
		*res = NULL;
	enum db_status st = be->exec(c, sql, params, nparams, res);
	return exec_counted(st);
}

enum db_status db_exec_once(db_conn *c, const char *sql, const struct db_param *params, int nparams,
                            db_result **res)
{
	const struct db_backend *be = ((struct db_conn_head *)c)->be;
	if (res)
		*res = NULL;
	enum db_status st =
	    (be->exec_once ? be->exec_once : be->exec)(c, sql, params, nparams, res);
	return exec_counted(st);
}

bool db_checkpoint_over(db_conn *c, int frames)
{
	const struct db_backend *be = ((struct db_conn_head *)c)->be;
	return be->checkpoint_over && be->checkpoint_over(c, frames);
}

void db_pool_usage(db_pool *p, int *size, int *idle)
{
	pthread_mutex_lock(&p->lock);
	*size = p->size;
	*idle = p->nidle;
	pthread_mutex_unlock(&p->lock);
}

const char *db_sql(const db_conn *c, const struct db_sql *s)
{
	const struct db_backend *be = ((const struct db_conn_head *)c)->be;
	return be == &db_sqlite_backend ? s->sqlite : s->postgresql;
}

bool db_commit_mark(db_conn *c, struct db_mark *m)
{
	const struct db_backend *be = ((const struct db_conn_head *)c)->be;
	return be->commit_mark && be->commit_mark(c, m);
}

bool db_commit_mark_exact(const db_conn *c)
{
	return ((const struct db_conn_head *)c)->be == &db_sqlite_backend;
}

bool db_listen_start(db_pool *p)
{
	return p->be != &db_pg_backend || pg_listen_start(p->target);
}

void db_listen_stop(db_pool *p)
{
	if (p && p->be == &db_pg_backend)
		pg_listen_stop();
}

bool db_ping(db_conn *c)
{
	db_result *r = NULL;
	bool ok = DB_EXEC0(c, "SELECT 1", &r) == DB_OK && r->nrows == 1;
	db_result_free(r);
	return ok;
}

/* Retries for at most DB_TX_BUDGET_US in all, with growing pauses: a store
 * locked by another process turns into a quick "busy" answer the caller can
 * pass on (503), not into a thread held for tens of seconds. */
#define DB_TX_BUDGET_US 3000000

enum db_status db_transaction(db_conn *c, db_tx_fn fn, void *ctx)
{
	const struct db_backend *be = ((struct db_conn_head *)c)->be;
	if (be->tx_conn)
		c = be->tx_conn(c);
	enum db_status st = DB_ERROR;
	int64_t start = time_now_us();
	for (unsigned pause = 1000;; pause = pause < 64000 ? pause * 2 : pause) {
		st = be->begin(c);
		if (st == DB_OK) {
			st = fn(c, ctx);
			if (st == DB_OK && (st = be->commit(c)) == DB_OK)
				return DB_OK;
			be->rollback(c);
		}
		if (st != DB_RETRY)
			return st;
		if (time_now_us() - start + pause > DB_TX_BUDGET_US)
			break;
		__atomic_add_fetch(&stat_tx_retries, 1, __ATOMIC_RELAXED);
		usleep(pause);
	}
	store_busy = true;
	return st;
}

/* ---- migrations ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Both engines run the same files; the id and blob column types differ, and
 * what only one engine can say (triggers) stands in a block of its own:
 * {{SQLITE}} ... {{END}} or {{POSTGRESQL}} ... {{END}}, dropped on the other. */
static char *migration_dialect(const char *sql, const char *engine)
{
	bool pg = strcmp(engine, "postgresql") == 0;
	struct buf b = {0};
	const char *p = sql;
	while (*p) {
		if (strncmp(p, "{{ID}}", 6) == 0) {
			buf_puts(&b, pg ? "BIGSERIAL PRIMARY KEY"
			                : "INTEGER PRIMARY KEY AUTOINCREMENT");
			p += 6;
		} else if (strncmp(p, "{{BLOB}}", 8) == 0) {
			buf_puts(&b, pg ? "BYTEA" : "BLOB");
			p += 8;
		} else if (strncmp(p, "{{SQLITE}}", 10) == 0 ||
		           strncmp(p, "{{POSTGRESQL}}", 14) == 0) {
			bool mine = (p[2] == 'P') == pg;
			p += p[2] == 'P' ? 14 : 10;
			if (!mine) {
				const char *end = strstr(p, "{{END}}");
				p = end ? end : p + strlen(p);
			}
		} else if (strncmp(p, "{{END}}", 7) == 0) {
			p += 7;
		} else {
			buf_putc(&b, *p++);
		}
	}
	return buf_steal(&b);
}

struct migrate_ctx {
	const char *sql;
	long version;
	const char *name;
	bool skipped; /* another process applied it first */
};

/* The key of the advisory lock migrations run under ("ESPMIGR" in ASCII). */
#define MIGRATION_LOCK "19513377752172370"

static enum db_status migrate_one(db_conn *c, void *arg)
{
	struct migrate_ctx *m = arg;
	const struct db_backend *be = ((struct db_conn_head *)c)->be;
	/* Another process may have applied it since we looked (SQLite has no
	 * advisory lock; its writer lock holds from here to commit). */
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT 1 FROM schema_migrations WHERE version = $1", &r, P_INT(m->version));
	bool done = st == DB_OK && r->nrows > 0;
	db_result_free(r);
	if (st != DB_OK || done) {
		m->skipped = done;
		return st;
	}
	st = be->exec_script(c, m->sql);
	if (st != DB_OK)
		return st;
	return DB_EXEC(
	    c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
	    NULL, P_INT(m->version), P_TEXT(m->name), P_INT(time_now()));
}

enum db_status db_migrate(db_pool *p, const char *dir, int *applied)
{
	*applied = 0;
	DIR *d = opendir(dir);
	if (!d) {
		log_error("cannot open migrations directory %s", dir);
		return DB_ERROR;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0 && e->d_name[0] >= '0' &&
		    e->d_name[0] <= '9') {
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_names);

	db_conn *c = db_acquire(p);
	/* Several espd starting at once on one PostgreSQL database: one
	 * migrates while the others wait here, then find nothing left to do.
	 * (A session-level lock: libpq's connection ends it if we die.) */
	bool pg = p->be == &db_pg_backend;
	enum db_status st =
	    pg ? DB_EXEC0(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", NULL) : DB_OK;
	bool locked = pg && st == DB_OK;
	if (st == DB_OK)
		st =
		    DB_EXEC0(c,
		             "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY "
		             "KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
		             NULL);
	for (size_t i = 0; i < n && st == DB_OK; i++) {
		long version = strtol(names[i], NULL, 10);
		db_result *r = NULL;
		st = DB_EXEC(c, "SELECT 1 FROM schema_migrations WHERE version = $1", &r,
		             P_INT(version));
		bool done = st == DB_OK && r->nrows > 0;
		db_result_free(r);
		if (st != DB_OK || done)
			continue;
		char *path = xasprintf("%s/%s", dir, names[i]);
		char *raw = file_read_all(path, NULL);
		free(path);
		if (!raw) {
			st = DB_ERROR;
			break;
		}
		char *sql = migration_dialect(raw, p->be->name);
		free(raw);
		struct migrate_ctx m = {.sql = sql, .version = version, .name = names[i]};
		st = db_transaction(c, migrate_one, &m);
		free(sql);
		if (st == DB_OK && !m.skipped)
			(*applied)++;
		else
			log_error("migration %s failed", names[i]);
	}
	if (locked)
		DB_EXEC0(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", NULL);
	db_release(p, c);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return st;
}

/* ---- results ----
 *
 * A result is allocated with a private tail: the cell values live in a few
 * large blocks (struct mem_blocks; a big value gets its own), and the cell
 * arrays grow geometrically, so a result of n rows costs a handful of
 * allocations instead of one per cell and one realloc per row.  Column
 * names stay individually allocated: backends may replace them (free +
 * xstrdup), and db_result_free frees them. */

#define RESULT_BLOCK 4096

struct result_impl {
	db_result pub; /* must come first: callers see only this */
	size_t rowcap; /* rows the cell arrays have room for */
	struct mem_blocks blocks;
};

static struct result_impl *impl_of(db_result *r)
{
	return (struct result_impl *)r;
}

db_result *db_result_new(int ncols)
{
	struct result_impl *ri = xcalloc(1, sizeof(*ri));
	db_result *r = &ri->pub;
	r->ncols = ncols;
	r->names = xcalloc((size_t)(ncols ? ncols : 1), sizeof(char *));
	return r;
}

void db_result_add_row(db_result *r)
{
	struct result_impl *ri = impl_of(r);
	if ((size_t)r->nrows == ri->rowcap) {
		size_t cap = ri->rowcap ? ri->rowcap * 2 : 8;
		size_t cells = cap * (size_t)r->ncols;
		r->values = xrealloc(r->values, (cells ? cells : 1) * sizeof(char *));
		r->lengths = xrealloc(r->lengths, (cells ? cells : 1) * sizeof(size_t));
		ri->rowcap = cap;
	}
	size_t at = (size_t)r->nrows * r->ncols;
	for (int i = 0; i < r->ncols; i++) {
		r->values[at + i] = NULL;
		r->lengths[at + i] = 0;
	}
	r->nrows++;
}

void db_result_set(db_result *r, int row, int col, const void *data, size_t len)
{
	size_t i = (size_t)row * r->ncols + col;
	/* A replaced value stays in its block until the result is freed. */
	if (!data) {
		r->values[i] = NULL;
		r->lengths[i] = 0;
		return;
	}
	char *v = mem_blocks_alloc(&impl_of(r)->blocks, len + 1, RESULT_BLOCK);
	memcpy(v, data, len);
	v[len] = '\0';
	r->values[i] = v;
	r->lengths[i] = len;
}

void db_result_free(db_result *r)
{
	if (!r)
		return;
	struct result_impl *ri = impl_of(r);
	mem_blocks_free(&ri->blocks);
	for (int i = 0; i < r->ncols; i++)
		free(r->names[i]);
	free(r->names);
	free(r->values);
	free(r->lengths);
	free(ri);
}

const char *db_get(const db_result *r, int row, int col)
{
	if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->values[(size_t)row * r->ncols + col];
}

const char *db_get_named(const db_result *r, int row, const char *name)
{
	if (!r)
		return NULL;
	for (int i = 0; i < r->ncols; i++)
		if (r->names[i] && strcmp(r->names[i], name) == 0)
			return db_get(r, row, i);
	return NULL;
}

int64_t db_get_int(const db_result *r, int row, int col, int64_t def)
{
	const char *v = db_get(r, row, col);
	return v ? strtoll(v, NULL, 10) : def;
}

size_t db_get_len(const db_result *r, int row, int col)
{
	if (!db_get(r, row, col))
		return 0;
	return r->lengths[(size_t)row * r->ncols + col];
}
