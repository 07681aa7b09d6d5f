/* Generations: counters the store's triggers bump (007_generations.sql,
 * 013_cluster.sql: on PostgreSQL a counter is the sum of its shards). */
#include "esp/generation.h"

#include <string.h>

/* The last counters this thread read, and the store's commit mark taken
 * just before: while the mark stays the same, nothing has been committed
 * since, and they are still right (db_commit_mark). Taken before the
 * statement, the mark can only be older than what was read: a commit in
 * between makes the next mark differ and the counters be read again. This
 * spares every page that loads a session a read transaction on SQLite (two
 * fcntl locks on the -shm file and the statement: a fifth of espd's CPU on
 * the portal page). On PostgreSQL the mark is the count of the generations'
 * notifications (db_pg_listen.c), which arrive a little after the commit
 * that sent them: only OCSP trusts it (generations_read_lagging), sparing
 * a round trip to the server per answer; pages compare the server's
 * snapshot every time (read_snapshot_memo), so that a change is seen the
 * moment its writer was answered. */
static _Thread_local struct {
	bool valid;
	struct db_mark mark;
	int64_t values[GEN_COUNT];
} memo;

static bool generations_query(db_conn *c, int64_t out[GEN_COUNT]);

/* PostgreSQL, for readers that must see every commit at once: the server's
 * own snapshot (pg_current_snapshot: the oldest running transaction, the
 * next transaction id, those running in between) taken before the counters.
 * A transaction that wrote and committed since either had its id in the
 * list then, or got an id after it: two equal snapshots, nothing committed
 * in between. Taking it is a statement without a table (a few µs in the
 * server); the counters' own read adds up 64 shards of each counter over a
 * table whose updates leave it spread on many pages (45 µs at national
 * scale), now only when a commit came. */
static _Thread_local struct {
	bool valid;
	char snapshot[256];
	int64_t values[GEN_COUNT];
} snap_memo;

static bool read_snapshot_memo(db_conn *c, const char *sql, int64_t out[GEN_COUNT])
{
	db_result *r = NULL;
	if (DB_EXEC0(c, sql, &r) != DB_OK || r->nrows != 1 || !db_get(r, 0, 0)) {
		db_result_free(r);
		snap_memo.valid = false;
		return generations_query(c, out);
	}
	const char *snap = db_get(r, 0, 0);
	bool fits = strlen(snap) < sizeof snap_memo.snapshot;
	if (fits && snap_memo.valid && strcmp(snap, snap_memo.snapshot) == 0) {
		db_result_free(r);
		memcpy(out, snap_memo.values, sizeof snap_memo.values);
		return true;
	}
	snap_memo.valid = false;
	bool ok = generations_query(c, out);
	if (ok && fits) {
		strcpy(snap_memo.snapshot, snap);
		memcpy(snap_memo.values, out, sizeof snap_memo.values);
		snap_memo.valid = true;
	}
	db_result_free(r);
	return ok;
}

static bool read_memo(db_conn *c, int64_t out[GEN_COUNT], bool exact)
{
	static const struct db_sql snapshot = {.sqlite = NULL,
	                                       .postgresql = "SELECT pg_current_snapshot()::text"};
	const char *snap_sql = db_sql(c, &snapshot);
	if (exact && snap_sql && !db_commit_mark_exact(c))
		return read_snapshot_memo(c, snap_sql, out);
	struct db_mark mark;
	bool marked = db_commit_mark(c, &mark);
	bool trusted = marked && (!exact || db_commit_mark_exact(c));
	if (trusted && memo.valid && memcmp(&mark, &memo.mark, sizeof mark) == 0) {
		memcpy(out, memo.values, sizeof memo.values);
		return true;
	}
	memo.valid = false;
	if (!generations_query(c, out))
		return false;
	if (marked) {
		memo.mark = mark;
		memcpy(memo.values, out, sizeof memo.values);
		memo.valid = true;
	}
	return true;
}

bool generations_read(db_conn *c, int64_t out[GEN_COUNT])
{
	return read_memo(c, out, true);
}

bool generations_read_lagging(db_conn *c, int64_t out[GEN_COUNT])
{
	return read_memo(c, out, false);
}

static bool generations_query(db_conn *c, int64_t out[GEN_COUNT])
{
	static const char *const names[GEN_COUNT] = {[GEN_REGISTRATIONS] = "registrations",
	                                             [GEN_SESSIONS] = "sessions",
	                                             [GEN_SETTINGS] = "settings",
	                                             [GEN_APPLICATIONS] = "applications",
	                                             [GEN_CERTIFICATES] = "certificates"};
	for (int g = 0; g < GEN_COUNT; g++)
		out[g] = -1;
	/* Read on every request that uses a session: on SQLite (one row per
	 * counter, shard 0) the plain scan spares the GROUP BY's sorter, about a
	 * third of the statement's CPU; PostgreSQL adds up its 64 shards. */
	static const struct db_sql read = {
	    .sqlite = "SELECT name, value FROM generations",
	    .postgresql = "SELECT name, SUM(value) FROM generations GROUP BY name"};
	db_result *r = NULL;
	if (DB_EXEC0(c, db_sql(c, &read), &r) != DB_OK)
		return false;
	for (int i = 0; i < r->nrows; i++)
		for (int g = 0; g < GEN_COUNT; g++)
			if (strcmp(db_get(r, i, 0), names[g]) == 0)
				out[g] = db_get_int(r, i, 1, -1);
	db_result_free(r);
	return true;
}
