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
 * the portal page), and on PostgreSQL, where the mark is the count of the
 * generations' notifications (db_pg_listen.c), a round trip to the server
 * for every such page and every OCSP answer. */
static _Thread_local struct {
	bool valid;
	struct db_mark mark;
	int64_t values[GEN_COUNT];
} memo;

static bool generations_query(db_conn *c, int64_t out[GEN_COUNT]);

bool generations_read(db_conn *c, int64_t out[GEN_COUNT])
{
	struct db_mark mark;
	bool marked = db_commit_mark(c, &mark);
	if (marked && memo.valid && memcmp(&mark, &memo.mark, sizeof mark) == 0) {
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
