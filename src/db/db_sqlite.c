/*
 * SQLite backend: WAL, foreign keys, busy timeout, synchronous=FULL (or NORMAL).
 * Parameters are written "$1", "$2" ... as for PostgreSQL; SQLite takes
 * "$NNN" as a named parameter, so each is bound by name.
 */
#include "esp/db.h"
#include "esp/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statement cache: every statement run is prepared once per connection
 * and kept, found by the hash of its text.  Most SQL is a string literal, so
 * the same pointer comes back each time: a small direct-mapped table keyed
 * by the pointer finds it without hashing the text (the text is still
 * compared, since a freed string's address can be reused). */
struct stmt_entry {
	struct stmt_entry *next; /* bucket chain */
	uint64_t hash;
	char *sql;
	sqlite3_stmt *stmt;
	int nmap; /* map[i]: index of "$<i+1>" in stmt, 0 when unused */
	int *map;
};

#define PTR_SLOTS 256 /* power of two */

/* SQLite has one writer at a time. Writers queue on this lock and are woken
 * when it is free, instead of sleep-polling in SQLite's busy handler. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

struct db_conn {
	const struct db_backend *be; /* must come first: see db.h */
	sqlite3 *db;
	bool writing;    /* holds write_lock between begin and commit/rollback */
	db_conn *writer; /* the pool's writer (not owned), or NULL */
	struct stmt_entry **buckets;
	size_t nbuckets, nstmts;
	struct {
		const char *key;
		struct stmt_entry *e;
	} byptr[PTR_SLOTS];
	/* sq_commit_mark: the database file's device and inode, 0 until known. */
	uint64_t file;
	/* Frames in the WAL after this connection's last commit (its WAL hook);
	 * read by other threads (sq_checkpoint_over), hence atomic. */
	_Atomic int wal_frames;
};

static enum db_status map_rc(sqlite3 *db, int rc, const char *sql)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return DB_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_RETRY;
	case SQLITE_CONSTRAINT:
		return DB_CONFLICT;
	default:
		log_error("sqlite: %s (in: %.60s)", sqlite3_errmsg(db), sql ? sql : "");
		return DB_ERROR;
	}
}

/* SQLite counts every allocation under one process-wide mutex unless told
 * not to; nothing here reads those counts, and every request's statement
 * took that lock against the other threads' (found with perf on the
 * portal page). Must come before SQLite initialises itself. */
static void sq_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Set once at start, before any connection opens (db_set_sqlite_synchronous). */
static bool sync_full = true;

bool db_set_sqlite_synchronous(const char *mode)
{
	if (!mode || (strcmp(mode, "full") != 0 && strcmp(mode, "normal") != 0))
		return false;
	sync_full = strcmp(mode, "full") == 0;
	return true;
}

static int wal_counted(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	db_conn *c = arg;
	atomic_store_explicit(&c->wal_frames, frames, memory_order_relaxed);
	return SQLITE_OK;
}

static db_conn *sq_open(const char *target, const char **err)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	pthread_once(&configured, sq_configure);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(
	    target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = "cannot open the SQLite database";
		sqlite3_close(db);
		return NULL;
	}
	/* Another process holding the lock (espctl, a backup) makes a statement
	 * wait at most this long before the caller sees DB_RETRY. */
	sqlite3_busy_timeout(db, 1000);
	/* Checkpoints run in espd's maintenance thread (db_checkpoint), not in
	 * the request that happens to cross the threshold. */
	/* synchronous=FULL (the default): a commit returns only once its WAL
	 * frames are on disk, so an acknowledged certificate, serial or audit
	 * entry survives a power loss, not only a killed process.  NORMAL, the
	 * operator's choice (sqlite_synchronous), survives a killed process but
	 * may roll the last commits back on a power loss. */
	char setup[200];
	snprintf(setup, sizeof setup,
	         "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
	         "PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY; "
	         "PRAGMA wal_autocheckpoint=0;",
	         sync_full ? "FULL" : "NORMAL");
	if (sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK) {
		*err = "cannot configure the SQLite database";
		sqlite3_close(db);
		return NULL;
	}
	db_conn *c = xcalloc(1, sizeof(*c));
	c->be = &db_sqlite_backend;
	c->db = db;
	/* Replaces the automatic checkpoint's hook (off above): it only counts. */
	sqlite3_wal_hook(db, wal_counted, c);
	return c;
}

static void sq_close(db_conn *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct stmt_entry *e = c->buckets[b];
		while (e) {
			struct stmt_entry *next = e->next;
			sqlite3_finalize(e->stmt);
			free(e->sql);
			free(e->map);
			free(e);
			e = next;
		}
	}
	free(c->buckets);
	sqlite3_close(c->db);
	free(c);
}

/* The WAL index header: two copies of 48 bytes at the start of the -shm
 * file, iVersion first. */
#define WAL_INDEX_VERSION 3007000u
#define WAL_HDR_WORDS 12

/* The WAL index (the -shm file's first region) as SQLite itself maps it,
 * through the VFS's public xShmMap: NULL when it is not mapped (no WAL, or
 * no transaction yet).  Never an open() and close() of our own on the -shm
 * file: closing any descriptor of a file drops every POSIX lock the process
 * holds on it, SQLite's included, after which another process opening the
 * database believes it is alone and truncates the -shm under our mapping
 * (SIGBUS) or writes while we read. */
static const volatile uint32_t *wal_index(db_conn *c)
{
	sqlite3_file *f = NULL;
	if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap)
		return NULL;
	volatile void *p = NULL;
	/* Region 0 of 32 KiB (SQLite's region size), not extended. */
	if (f->pMethods->xShmMap(f, 0, 32768, 0, &p) != SQLITE_OK)
		return NULL;
	if (p && !c->file) {
		struct stat st;
		const char *db = sqlite3_db_filename(c->db, "main");
		if (!db || stat(db, &st) != 0)
			return NULL;
		c->file = (uint64_t)st.st_dev << 40 ^ (uint64_t)st.st_ino;
	}
	return p;
}

static bool sq_commit_mark(db_conn *c, struct db_mark *m)
{
	if (!sqlite3_get_autocommit(c->db))
		return false; /* its own uncommitted changes are not in the header */
	const volatile uint32_t *shm = wal_index(c);
	if (!shm)
		return false;
	/* As SQLite's readers do: the writer writes the second copy, then the
	 * first; the two read in the other order and equal are one header. */
	uint32_t second[WAL_HDR_WORDS];
	for (int i = 0; i < WAL_HDR_WORDS; i++)
		m->header[i] = shm[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int i = 0; i < WAL_HDR_WORDS; i++)
		second[i] = shm[WAL_HDR_WORDS + i];
	/* Word 3 holds isInit in its first byte. */
	unsigned char is_init;
	memcpy(&is_init, &m->header[3], 1);
	if (memcmp(m->header, second, sizeof second) != 0 || m->header[0] != WAL_INDEX_VERSION ||
	    !is_init)
		return false;
	m->file = c->file;
	return true;
}

static size_t ptr_slot(const char *p)
{
	uintptr_t v = (uintptr_t)p;
	return (size_t)((v ^ (v >> 9) ^ (v >> 17)) & (PTR_SLOTS - 1));
}

/* Parameters are named "$1", "$2" ...: record where each one is, so binding
 * needs no name lookup.  A name is taken only in exactly that spelling. */
static void map_params(struct stmt_entry *e)
{
	int count = sqlite3_bind_parameter_count(e->stmt);
	for (int idx = 1; idx <= count; idx++) {
		const char *name = sqlite3_bind_parameter_name(e->stmt, idx);
		if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
			continue;
		char *end = NULL;
		long n = strtol(name + 1, &end, 10);
		if (*end || n < 1 || n > 100000)
			continue;
		if (n > e->nmap) {
			e->map = xrealloc(e->map, (size_t)n * sizeof(int));
			memset(e->map + e->nmap, 0, (size_t)(n - e->nmap) * sizeof(int));
			e->nmap = (int)n;
		}
		e->map[n - 1] = idx;
	}
}

static void cache_grow(db_conn *c)
{
	size_t n = c->nbuckets ? c->nbuckets * 2 : 64;
	struct stmt_entry **nb = xcalloc(n, sizeof(*nb));
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct stmt_entry *e = c->buckets[b];
		while (e) {
			struct stmt_entry *next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

static struct stmt_entry *prepared(db_conn *c, const char *sql, enum db_status *st)
{
	size_t slot = ptr_slot(sql);
	struct stmt_entry *e = c->byptr[slot].e;
	if (c->byptr[slot].key == sql && strcmp(e->sql, sql) == 0)
		return e;
	uint64_t h = str_hash64(sql);
	if (c->nbuckets) {
		for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
			if (e->hash == h && strcmp(e->sql, sql) == 0)
				break;
	}
	if (!e) {
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
		if (rc != SQLITE_OK) {
			*st = map_rc(c->db, rc, sql);
			return NULL;
		}
		if (c->nstmts + 1 > c->nbuckets)
			cache_grow(c);
		e = xcalloc(1, sizeof(*e));
		e->hash = h;
		e->sql = xstrdup(sql);
		e->stmt = s;
		map_params(e);
		e->next = c->buckets[h & (c->nbuckets - 1)];
		c->buckets[h & (c->nbuckets - 1)] = e;
		c->nstmts++;
	}
	c->byptr[slot].key = sql;
	c->byptr[slot].e = e;
	return e;
}

static enum db_status sq_exec(db_conn *c, const char *sql, const struct db_param *params,
                              int nparams, db_result **res)
{
	enum db_status st = DB_ERROR;
	struct stmt_entry *e = prepared(c, sql, &st);
	if (!e)
		return st;
	sqlite3_stmt *s = e->stmt;
	for (int i = 0; i < nparams; i++) {
		int idx = i < e->nmap ? e->map[i] : 0;
		if (idx == 0)
			continue; /* parameter not used by this statement */
		const struct db_param *p = &params[i];
		switch (p->type) {
		case DB_NULL:
			sqlite3_bind_null(s, idx);
			break;
		case DB_INT:
			sqlite3_bind_int64(s, idx, p->i);
			break;
		case DB_TEXT:
			sqlite3_bind_text(s, idx, p->s, -1, SQLITE_STATIC);
			break;
		case DB_BLOB:
			sqlite3_bind_blob64(s, idx, p->s, p->len, SQLITE_STATIC);
			break;
		}
	}
	db_result *r = NULL;
	int ncols = sqlite3_column_count(s);
	if (res) {
		r = db_result_new(ncols);
		for (int i = 0; i < ncols; i++)
			r->names[i] = xstrdup(sqlite3_column_name(s, i));
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!r)
			continue;
		db_result_add_row(r);
		for (int i = 0; i < ncols; i++) {
			int t = sqlite3_column_type(s, i);
			if (t == SQLITE_NULL)
				continue;
			if (t == SQLITE_BLOB) {
				const void *b = sqlite3_column_blob(s, i);
				db_result_set(r, r->nrows - 1, i, b ? b : "",
				              (size_t)sqlite3_column_bytes(s, i));
			} else {
				const unsigned char *v = sqlite3_column_text(s, i);
				db_result_set(r, r->nrows - 1, i, v,
				              (size_t)sqlite3_column_bytes(s, i));
			}
		}
	}
	st = map_rc(c->db, rc, sql);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	if (res)
		*res = r;
	return DB_OK;
}

static enum db_status sq_exec_script(db_conn *c, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("sqlite script: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return rc == SQLITE_BUSY ? DB_RETRY : DB_ERROR;
	}
	return DB_OK;
}

/* IMMEDIATE takes the write lock at once: a read-then-write transaction can
 * then never fail half-way with SQLITE_BUSY on the upgrade. */
static void release_write(db_conn *c)
{
	if (c->writing) {
		c->writing = false;
		pthread_mutex_unlock(&write_lock);
	}
}

static enum db_status sq_begin(db_conn *c)
{
	/* A writer stuck behind another process's lock must not hold up every
	 * other thread for long: queue for at most two seconds. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	if (pthread_mutex_timedlock(&write_lock, &until) != 0)
		return DB_RETRY;
	c->writing = true;
	/* Prepared once per connection, like every other statement. */
	enum db_status st = sq_exec(c, "BEGIN IMMEDIATE", NULL, 0, NULL);
	if (st != DB_OK)
		release_write(c);
	return st;
}

static enum db_status sq_commit(db_conn *c)
{
	enum db_status st = sq_exec(c, "COMMIT", NULL, 0, NULL);
	if (st == DB_OK)
		release_write(c);
	return st;
}

static enum db_status sq_rollback(db_conn *c)
{
	enum db_status st = DB_OK;
	if (!sqlite3_get_autocommit(c->db))
		st = sq_exec(c, "ROLLBACK", NULL, 0, NULL);
	release_write(c);
	return st;
}

static void sq_share_writer(db_conn *c, db_conn *writer)
{
	c->writer = writer;
}

/* Used only under write_lock (sq_begin to commit/rollback), so one writer
 * serves every thread of the pool in turn. */
static db_conn *sq_tx_conn(db_conn *c)
{
	return c->writer ? c->writer : c;
}

/*
 * A passive checkpoint on c when the WAL the pool's transactions wrote holds
 * at least `frames` frames.  SQLite starts writing its WAL from the
 * beginning again only when a write transaction begins after a checkpoint
 * that copied every frame; the maintenance thread's checkpoint, once a
 * second, never finds that while issuances commit every millisecond, and the
 * WAL then grew by every frame written (250 MB over a 10,000-certificate
 * bench run): every write went past the end of the file, into new pages
 * the kernel zeroes and allocates, and every sync wrote the file's new size.
 * The committer, the one steady writer, runs this between its batches.
 */
static bool sq_checkpoint_over(db_conn *c, int frames)
{
	db_conn *w = c->writer ? c->writer : c;
	if (atomic_load_explicit(&w->wal_frames, memory_order_relaxed) < frames)
		return false;
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_OK && log >= 0 && done >= log)
		atomic_store_explicit(&w->wal_frames, 0, memory_order_relaxed);
	return rc == SQLITE_OK;
}

const struct db_backend db_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .share_writer = sq_share_writer,
    .tx_conn = sq_tx_conn,
    .commit_mark = sq_commit_mark,
    .checkpoint_over = sq_checkpoint_over,
};
