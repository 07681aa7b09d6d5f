/*
 * The store: one interface over two engines, SQLite (embedded default) and
 * PostgreSQL (libpq).  SQL is written once, PostgreSQL style ($1, $2 ...),
 * within what both engines run; each backend fills a struct db_backend.
 *
 * Results are materialised as text (NULL for SQL NULL) and blobs; they are
 * owned by the db_result and freed with db_result_free.
 *
 * A connection is used by one thread at a time: take one from the pool with
 * db_acquire and give it back with db_release.  Every multi-row change runs
 * through db_transaction, which retries on serialization failures.
 */
#ifndef ESP_DB_H
#define ESP_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_status {
	DB_OK = 0,
	DB_NOT_FOUND, /* a query expected one row and found none */
	DB_CONFLICT,  /* unique or foreign key constraint violated */
	DB_RETRY,     /* serialization failure / busy: run the transaction again */
	DB_ERROR,     /* anything else: logged by the backend */
};

enum db_type { DB_NULL, DB_INT, DB_TEXT, DB_BLOB };

struct db_param {
	enum db_type type;
	int64_t i;
	const char *s; /* DB_TEXT: NUL-terminated; DB_BLOB: bytes */
	size_t len;    /* DB_BLOB */
};

#define P_INT(v) ((struct db_param){.type = DB_INT, .i = (int64_t)(v)})
static inline struct db_param db_param_text(const char *v)
{
	return (struct db_param){.type = v ? DB_TEXT : DB_NULL, .s = v};
}
#define P_TEXT(v) db_param_text(v)
#define P_BLOB(p, n) ((struct db_param){.type = DB_BLOB, .s = (const char *)(p), .len = (n)})
#define P_NULL ((struct db_param){.type = DB_NULL})

typedef struct db_result {
	int nrows, ncols;
	char **names;    /* ncols column names */
	char **values;   /* nrows*ncols, row-major; NULL for SQL NULL */
	size_t *lengths; /* byte lengths (blobs may hold NULs) */
} db_result;

/* A backend's connection struct MUST begin with `const struct db_backend *be;`
 * (set to the backend itself): db_exec and db_transaction dispatch through it. */
typedef struct db_conn db_conn;
typedef struct db_pool db_pool;

/* What db_commit_mark reads: opaque, compared whole. */
struct db_mark {
	uint64_t file;       /* which database file */
	uint32_t header[12]; /* the WAL index header */
};

struct db_backend {
	const char *name; /* "sqlite" | "postgresql" */
	/* Open a connection; *err gets a static message on failure. */
	db_conn *(*open)(const char *target, const char **err);
	void (*close)(db_conn *c);
	/* Run one statement (prepared and cached per connection, keyed by the
	 * sql pointer's text). *res may be NULL when rows are not wanted. */
	enum db_status (*exec)(db_conn *c, const char *sql, const struct db_param *params,
	                       int nparams, db_result **res);
	/* As exec, planned for the values given and not kept (NULL: exec). */
	enum db_status (*exec_once)(db_conn *c, const char *sql, const struct db_param *params,
	                            int nparams, db_result **res);
	/* Run a script of several statements without parameters (migrations). */
	enum db_status (*exec_script)(db_conn *c, const char *sql);
	enum db_status (*begin)(db_conn *c);
	enum db_status (*commit)(db_conn *c);
	enum db_status (*rollback)(db_conn *c);
	/* SQLite only (NULL elsewhere): the transactions of a pool's connections
	 * all run on one writer connection of the pool (share_writer tells each
	 * connection which; tx_conn answers it, or c itself). SQLite drops a
	 * connection's whole page cache whenever another connection has
	 * committed since its last read; with one writer, the pages transactions
	 * use stay cached from one to the next. */
	void (*share_writer)(db_conn *c, db_conn *writer);
	db_conn *(*tx_conn)(db_conn *c);
	/* See db_commit_mark (SQLite: the WAL index; PostgreSQL: the
	 * listening connection's epoch, db_pg_listen.c). */
	bool (*commit_mark)(db_conn *c, struct db_mark *m);
	/* SQLite only (NULL elsewhere): see db_checkpoint_over. */
	bool (*checkpoint_over)(db_conn *c, int frames);
};

extern const struct db_backend db_sqlite_backend;
extern const struct db_backend db_pg_backend;

/* Pool of connections to "postgresql://..." or a SQLite file path. */
db_pool *db_pool_open(const char *target, int size, const char **err);
/* How SQLite commits, for the connections opened from then on: "full" (on
 * disk before the commit returns; the default) or "normal" (survives a
 * killed process, not a power loss).  false for another word. */
bool db_set_sqlite_synchronous(const char *mode);
void db_pool_close(db_pool *p);
const struct db_backend *db_pool_backend(const db_pool *p);
db_conn *db_acquire(db_pool *p);
/* As db_acquire, but gives up after timeout_ms and returns NULL (and marks
 * the thread's store as busy): request threads never wait without end. */
db_conn *db_acquire_wait(db_pool *p, int timeout_ms);
/* An idle connection at once, or NULL without waiting (nor marking busy). */
db_conn *db_try_acquire(db_pool *p);
void db_release(db_pool *p, db_conn *c);

/* Apply the numbered migrations in dir that are not applied yet, each in its
 * own transaction.  Returns DB_OK, setting *applied to how many ran. */
enum db_status db_migrate(db_pool *p, const char *dir, int *applied);

/* Folds the SQLite write-ahead log back into the database without blocking
 * writers (a passive checkpoint); nothing to do on PostgreSQL. */
void db_checkpoint(db_pool *p);
/* The same on c, only when the pool's WAL holds at least `frames` frames
 * (SQLite; false elsewhere, and when nothing was done).  For a thread that
 * writes steadily (the issuance committer), between its transactions. */
bool db_checkpoint_over(db_conn *c, int frames);

enum db_status db_exec(db_conn *c, const char *sql, const struct db_param *params, int nparams,
                       db_result **res);
#define DB_EXEC(c, sql, res, ...)                                                                  \
	db_exec((c), (sql), (const struct db_param[]){__VA_ARGS__},                                \
	        (int)(sizeof((const struct db_param[]){__VA_ARGS__}) / sizeof(struct db_param)),   \
	        (res))
#define DB_EXEC0(c, sql, res) db_exec((c), (sql), NULL, 0, (res))
/*
 * As db_exec, for a statement whose best plan depends on its values: on
 * PostgreSQL it is planned for them at each run and not kept prepared. A
 * prepared statement runs a generic plan after five runs, made without the
 * values; for a search text that plan assumes thousands of matches (it
 * cannot know the text) and read a province's every application to join
 * them with the dozen the text matched. SQLite: db_exec.
 */
enum db_status db_exec_once(db_conn *c, const char *sql, const struct db_param *params, int nparams,
                            db_result **res);

/*
 * "column starts with the text parameter p" (the authority tree's subtree
 * test: "/1/14/" and everything below it), in the form each engine runs best,
 * with the same one parameter on both:
 *   SQLite: the range [p, p with its last character + 1).  The column's
 *     index serves it, and the statement is prepared once: a LIKE with a
 *     bound pattern makes SQLite prepare it again at every run.  p must not
 *     be empty (its range would hold nothing).
 *   PostgreSQL: starts_with(column, p).  Text compares by the database's
 *     collation there, which may ignore '/', so a range is no prefix test.
 * A statement holding the test is a macro STMT(PREFIX) whose text has
 * PREFIX("a.path", "$1") in place of the test; DB_SQL(STMT) writes it for
 * both engines and db_sql gives the one a connection runs.
 */
#define DB_PREFIX_SQLITE(col, p)                                                                   \
	"(" col " >= " p " AND " col " < substr(" p ", 1, length(" p ") - 1) || "                  \
	"char(unicode(substr(" p ", -1)) + 1))"
#define DB_PREFIX_POSTGRESQL(col, p) "starts_with(" col ", " p ")"
struct db_sql {
	const char *sqlite, *postgresql;
};
#define DB_SQL(STMT)                                                                               \
	{                                                                                          \
		STMT(DB_PREFIX_SQLITE), STMT(DB_PREFIX_POSTGRESQL)                                 \
	}
const char *db_sql(const db_conn *c, const struct db_sql *s);

/*
 * A mark of everything committed to the store so far, taken without running
 * a statement, where the engine allows it: on SQLite the header of the WAL
 * index (the -shm file), which every commit and every restart of the WAL
 * rewrites before the commit returns (https://sqlite.org/walformat.html;
 * its layout is shared by every SQLite version that opens the database at
 * the same time, so it does not change). Two equal marks of one database:
 * nothing was committed in between, so what a statement read after the
 * first still holds. False when it cannot tell (a transaction open on c,
 * the header being written at that moment): run the statement.
 * On PostgreSQL, the count of notifications the process's listening
 * connection has received from the generations' triggers (and of its own
 * commits): it moves with every commit that moved a generation, whoever
 * made it, once the server's notification has arrived (db_listen_start;
 * false while no connection listens). Only the generations' triggers
 * notify: a mark covers what they count, not every table.
 */
bool db_commit_mark(db_conn *c, struct db_mark *m);
/* Whether c's marks move before a commit returns to whoever made it, in any
 * process (SQLite: the WAL index is written by the COMMIT itself). False on
 * PostgreSQL: another process's commit moves the mark only when its
 * notification arrives, a little later; a reader that must see a change as
 * soon as its writer was told it committed (a page after espctl disabled
 * the account) reads the store instead. */
bool db_commit_mark_exact(const db_conn *c);

/* PostgreSQL: starts the process's listening connection (a thread) to the
 * pool's store, which makes db_commit_mark give marks; one per process.
 * Nothing to do on SQLite. false when the thread cannot start. */
bool db_listen_start(db_pool *p);
void db_listen_stop(db_pool *p);
/* Whether the listening connection is up, and the notifications received
 * since the start (for /metrics). */
void db_listen_stats(bool *listening, uint64_t *received);

/* Whether the store answers (a trivial statement runs): the health check. */
bool db_ping(db_conn *c);

/* The transaction body: return DB_OK to commit, anything else to roll back.
 * DB_RETRY from the body or from commit runs it again (a few times). */
typedef enum db_status (*db_tx_fn)(db_conn *c, void *ctx);
enum db_status db_transaction(db_conn *c, db_tx_fn fn, void *ctx);

/* Whether, since the last reset, this thread met a store too busy to answer
 * in time (no pooled connection free, or a transaction still locked out
 * after its retries): the caller answers 503 and asks to retry, not 500. */
bool db_store_busy(void);
void db_store_busy_reset(void);

/* Counters since the start of the process, for /metrics. */
struct db_stats {
	uint64_t errors;     /* statements that failed (DB_ERROR) */
	uint64_t busy;       /* statements locked out (DB_RETRY: busy, serialization) */
	uint64_t tx_retries; /* transactions run again after DB_RETRY */
};
void db_stats(struct db_stats *out);
/* The pool's size and how many of its connections are idle now. */
void db_pool_usage(db_pool *p, int *size, int *idle);

void db_result_free(db_result *r);
/* Cell accessors; row/col out of range or NULL cell give NULL / def. */
const char *db_get(const db_result *r, int row, int col);
const char *db_get_named(const db_result *r, int row, const char *name);
int64_t db_get_int(const db_result *r, int row, int col, int64_t def);
size_t db_get_len(const db_result *r, int row, int col);

/* Backend helpers shared by both engines. */
db_result *db_result_new(int ncols);
void db_result_add_row(db_result *r); /* appends a row of NULLs */
void db_result_set(db_result *r, int row, int col, const void *data, size_t len);

#endif
