/*
 * Unit tests of the store (src/db) and of the core functions that write
 * through it (seed, authorities, accounts, sessions, audit log), run on both
 * engines: SQLite always (a temporary file), PostgreSQL when ESP_PG_CLUSTER
 * names a cluster started with scripts/pg-test-cluster.sh.  Every test gets
 * a fresh database.  With ESP_PG_CLUSTER set, a database that cannot be made
 * fails the test: PostgreSQL is never skipped silently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esp/core.h"
#include "esp/registration.h"
#include "esp/db.h"
#include "esp/util.h"
#include "../dbfixture.h"

#define MIGRATIONS ESP_SOURCE_DIR "/src/db/migrations"

/* ---- fixtures (../dbfixture.c) ------------------------------------------------- */

static int count_migration_files(void)
{
	DIR *d = opendir(MIGRATIONS);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".sql") == 0 && e->d_name[0] >= '0' &&
		    e->d_name[0] <= '9')
			n++;
	}
	closedir(d);
	return n;
}

/* ---- helpers ------------------------------------------------------------------ */

static int64_t count_rows(db_conn *c, const char *sql)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(c, sql, &r), DB_OK);
	int64_t n = db_get_int(r, 0, 0, -1);
	db_result_free(r);
	return n;
}

/* A table of our own, in each engine's words. */
static void make_scratch(struct fixture *f)
{
	const char *sql =
	    f->pg ? "CREATE TABLE scratch (id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE, note TEXT, "
	            "n BIGINT, data BYTEA)"
	          : "CREATE TABLE scratch (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
	            "note TEXT, n BIGINT, data BLOB)";
	assert_int_equal(db_pool_backend(f->pool)->exec_script(f->c, sql), DB_OK);
}

static enum db_status insert_name(db_conn *c, const char *name)
{
	return DB_EXEC(c, "INSERT INTO scratch (name) VALUES ($1)", NULL, P_TEXT(name));
}

/* ---- the store ----------------------------------------------------------------- */

static void test_migrations(void **state)
{
	struct fixture *f = *state;
	int files = count_migration_files();
	assert_true(files >= 1);
	assert_int_equal(f->applied, files);
	assert_string_equal(db_pool_backend(f->pool)->name, f->pg ? "postgresql" : "sqlite");
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM schema_migrations"), files);
	/* The foundation is there, with its settings. */
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM settings WHERE name = "
	                                  "'login_max_failures'"),
	                 1);
	/* A second run applies nothing and changes nothing. */
	db_release(f->pool, f->c);
	f->c = NULL;
	int again = -1;
	assert_int_equal(db_migrate(f->pool, MIGRATIONS, &again), DB_OK);
	assert_int_equal(again, 0);
	f->c = db_acquire(f->pool);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM schema_migrations"), files);
	/* A missing directory is an error. */
	db_release(f->pool, f->c);
	f->c = NULL;
	assert_int_equal(db_migrate(f->pool, "/nonexistent/migrations", &again), DB_ERROR);
	f->c = db_acquire(f->pool);
}

static void test_insert_returning(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	int64_t prev = 0;
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof name, "row%d", i);
		db_result *r = NULL;
		assert_int_equal(
		    DB_EXEC(f->c, "INSERT INTO scratch (name, n) VALUES ($1, $2) RETURNING id, n",
		            &r, P_TEXT(name), P_INT(i * 1000000000000LL)),
		    DB_OK);
		assert_int_equal(r->nrows, 1);
		assert_int_equal(r->ncols, 2);
		int64_t id = db_get_int(r, 0, 0, 0);
		assert_true(id > prev);
		prev = id;
		assert_string_equal(r->names[0], "id");
		assert_int_equal(db_get_int(r, 0, 1, -1), i * 1000000000000LL);
		assert_string_equal(db_get_named(r, 0, "id"), db_get(r, 0, 0));
		assert_null(db_get_named(r, 0, "nope"));
		db_result_free(r);
	}
	/* Parameters out of order and reused. */
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(f->c,
	                         "SELECT name FROM scratch WHERE n = $2 OR name = $1 ORDER BY id",
	                         &r, P_TEXT("row1"), P_INT(3000000000000LL)),
	                 DB_OK);
	assert_int_equal(r->nrows, 2);
	assert_string_equal(db_get(r, 0, 0), "row1");
	assert_string_equal(db_get(r, 1, 0), "row3");
	/* Out of range cells are NULL / the default. */
	assert_null(db_get(r, 2, 0));
	assert_null(db_get(r, 0, 1));
	assert_null(db_get(r, -1, 0));
	assert_int_equal(db_get_int(r, 5, 0, 77), 77);
	assert_int_equal(db_get_len(r, 5, 0), 0);
	db_result_free(r);
	/* A statement without a result set, and one without rows. */
	assert_int_equal(DB_EXEC(f->c, "UPDATE scratch SET note = $1 WHERE name = $2", NULL,
	                         P_TEXT("x"), P_TEXT("row4")),
	                 DB_OK);
	assert_int_equal(
	    DB_EXEC(f->c, "SELECT id FROM scratch WHERE name = $1", &r, P_TEXT("none")), DB_OK);
	assert_int_equal(r->nrows, 0);
	assert_int_equal(r->ncols, 1);
	db_result_free(r);
	/* Many rows come back in order (results grow). */
	for (int i = 0; i < 300; i++) {
		char name[16];
		snprintf(name, sizeof name, "bulk%03d", i);
		assert_int_equal(insert_name(f->c, name), DB_OK);
	}
	assert_int_equal(
	    DB_EXEC0(f->c, "SELECT name, id FROM scratch WHERE name LIKE 'bulk%' ORDER BY name",
	             &r),
	    DB_OK);
	assert_int_equal(r->nrows, 300);
	for (int i = 0; i < 300; i++) {
		char name[16];
		snprintf(name, sizeof name, "bulk%03d", i);
		assert_string_equal(db_get(r, i, 0), name);
	}
	db_result_free(r);
	db_result_free(NULL);
	/* SQL errors are errors, and the connection goes on working. */
	assert_int_equal(DB_EXEC0(f->c, "SELECT nope FROM nowhere", &r), DB_ERROR);
	assert_null(r);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 305);
}

static void test_nulls(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(f->c,
	            "INSERT INTO scratch (name, note, n, data) VALUES ($1, $2, $3, $4) "
	            "RETURNING id",
	            &r, P_TEXT("nulls"), P_TEXT(NULL), P_NULL, P_NULL),
	    DB_OK);
	db_result_free(r);
	assert_int_equal(insert_name(f->c, "empty"), DB_OK);
	assert_int_equal(DB_EXEC(f->c, "UPDATE scratch SET note = $1, n = $2 WHERE name = $3", NULL,
	                         P_TEXT(""), P_INT(0), P_TEXT("empty")),
	                 DB_OK);

	assert_int_equal(
	    DB_EXEC(f->c, "SELECT note, n, data FROM scratch WHERE name = $1", &r, P_TEXT("nulls")),
	    DB_OK);
	assert_int_equal(r->nrows, 1);
	for (int col = 0; col < 3; col++) {
		assert_null(db_get(r, 0, col));
		assert_int_equal(db_get_len(r, 0, col), 0);
		assert_int_equal(db_get_int(r, 0, col, -5), -5);
	}
	db_result_free(r);
	/* "" and 0 are not NULL. */
	assert_int_equal(
	    DB_EXEC(f->c, "SELECT note, n FROM scratch WHERE name = $1", &r, P_TEXT("empty")),
	    DB_OK);
	assert_non_null(db_get(r, 0, 0));
	assert_string_equal(db_get(r, 0, 0), "");
	assert_int_equal(db_get_int(r, 0, 1, -5), 0);
	db_result_free(r);
	/* IS NULL finds exactly the NULL row. */
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch WHERE note IS NULL"), 1);
	/* A NULL parameter compares as NULL (no row), not as "". */
	assert_int_equal(DB_EXEC(f->c, "SELECT id FROM scratch WHERE note = $1", &r, P_NULL),
	                 DB_OK);
	assert_int_equal(r->nrows, 0);
	db_result_free(r);
}

static void test_blobs(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	unsigned char bytes[4096];
	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)(i * 31 + 7);
	bytes[0] = 0;
	bytes[100] = 0;
	bytes[sizeof bytes - 1] = 0;
	unsigned char big[300000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i % 251);
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO scratch (name, data) VALUES ($1, $2)", NULL,
	                         P_TEXT("bytes"), P_BLOB(bytes, sizeof bytes)),
	                 DB_OK);
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO scratch (name, data) VALUES ($1, $2)", NULL,
	                         P_TEXT("nul"), P_BLOB("\0", 1)),
	                 DB_OK);
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO scratch (name, data) VALUES ($1, $2)", NULL,
	                         P_TEXT("empty"), P_BLOB("", 0)),
	                 DB_OK);
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO scratch (name, data) VALUES ($1, $2)", NULL,
	                         P_TEXT("big"), P_BLOB(big, sizeof big)),
	                 DB_OK);
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(f->c, "SELECT name, data FROM scratch ORDER BY id", &r), DB_OK);
	assert_int_equal(r->nrows, 4);
	assert_int_equal(db_get_len(r, 0, 1), sizeof bytes);
	assert_memory_equal(db_get(r, 0, 1), bytes, sizeof bytes);
	assert_int_equal(db_get_len(r, 1, 1), 1);
	assert_int_equal(db_get(r, 1, 1)[0], 0);
	/* An empty blob is not NULL. */
	assert_non_null(db_get(r, 2, 1));
	assert_int_equal(db_get_len(r, 2, 1), 0);
	assert_int_equal(db_get_len(r, 3, 1), sizeof big);
	assert_memory_equal(db_get(r, 3, 1), big, sizeof big);
	/* Values are NUL-terminated past their length. */
	assert_int_equal(db_get(r, 0, 1)[sizeof bytes], 0);
	db_result_free(r);
	/* A blob as a lookup key. */
	assert_int_equal(DB_EXEC(f->c, "SELECT name FROM scratch WHERE data = $1", &r,
	                         P_BLOB(bytes, sizeof bytes)),
	                 DB_OK);
	assert_int_equal(r->nrows, 1);
	assert_string_equal(db_get(r, 0, 0), "bytes");
	db_result_free(r);
}

static void test_chinese_text(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	const char *names[] = {"交通运输部", "新疆生产建设兵团交通运输局", "厦门　海峡🚢",
	                       "Ünïcödé"};
	const int64_t chars[] = {5, 13, 6, 7};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(DB_EXEC(f->c, "INSERT INTO scratch (name, note) VALUES ($1, $2)",
		                         NULL, P_TEXT(names[i]), P_TEXT("备注：<&>'\"")),
		                 DB_OK);
	for (size_t i = 0; i < 4; i++) {
		db_result *r = NULL;
		assert_int_equal(
		    DB_EXEC(f->c, "SELECT name, length(name), note FROM scratch WHERE name = $1",
		            &r, P_TEXT(names[i])),
		    DB_OK);
		assert_int_equal(r->nrows, 1);
		assert_string_equal(db_get(r, 0, 0), names[i]);
		assert_int_equal(db_get_len(r, 0, 0), strlen(names[i]));
		/* Characters, not bytes: the text is stored as UTF-8 text. */
		assert_int_equal(db_get_int(r, 0, 1, 0), chars[i]);
		assert_string_equal(db_get(r, 0, 2), "备注：<&>'\"");
		db_result_free(r);
	}
	assert_int_equal(
	    count_rows(f->c, "SELECT COUNT(*) FROM scratch WHERE name LIKE '%交通运输%'"), 2);
}

static void test_conflicts(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	assert_int_equal(insert_name(f->c, "交通运输部"), DB_OK);
	assert_int_equal(insert_name(f->c, "交通运输部"), DB_CONFLICT);
	/* The connection works on after the conflict. */
	assert_int_equal(insert_name(f->c, "other"), DB_OK);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 2);
	/* Unique violation in the real schema: a province twice. */
	assert_int_equal(DB_EXEC(f->c,
	                         "INSERT INTO provinces (code, name, sort) VALUES ($1, $2, $3)",
	                         NULL, P_TEXT("32"), P_TEXT("江苏省"), P_INT(1)),
	                 DB_OK);
	assert_int_equal(DB_EXEC(f->c,
	                         "INSERT INTO provinces (code, name, sort) VALUES ($1, $2, $3)",
	                         NULL, P_TEXT("32"), P_TEXT("江苏"), P_INT(2)),
	                 DB_CONFLICT);
	/* A foreign key to nowhere is a conflict too. */
	assert_int_equal(DB_EXEC(f->c,
	                         "INSERT INTO authorities (name, province_code, level, created_at) "
	                         "VALUES ($1, $2, $3, $4)",
	                         NULL, P_TEXT("无省份"), P_TEXT("99"), P_TEXT("provincial"),
	                         P_INT(1)),
	                 DB_CONFLICT);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM authorities"), 0);
}

/* ---- transactions ------------------------------------------------------------- */

struct tx_ctx {
	int attempts;
	int retry_until;       /* return DB_RETRY while attempts < this */
	enum db_status result; /* what to return after the inserts */
	bool duplicate;        /* make the second insert a unique violation */
};

static enum db_status tx_body(db_conn *c, void *arg)
{
	struct tx_ctx *t = arg;
	t->attempts++;
	char name[32];
	snprintf(name, sizeof name, "try%d", t->attempts);
	enum db_status st = insert_name(c, name);
	if (st != DB_OK)
		return st;
	st = insert_name(c, t->duplicate ? name : "second");
	if (st != DB_OK)
		return st;
	if (t->attempts < t->retry_until)
		return DB_RETRY;
	return t->result;
}

static void test_transaction_commit_and_rollback(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	/* The body fails: nothing it did remains. */
	struct tx_ctx t = {.result = DB_ERROR};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_ERROR);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 0);

	/* A statement of the body fails: its status comes back, not retried. */
	t = (struct tx_ctx){.result = DB_OK, .duplicate = true};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_CONFLICT);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 0);

	/* DB_NOT_FOUND from the body rolls back too. */
	t = (struct tx_ctx){.result = DB_NOT_FOUND};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_NOT_FOUND);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 0);

	/* Success commits both rows. */
	t = (struct tx_ctx){.result = DB_OK};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_OK);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 2);

	/* The connection is out of the transaction: a new one can begin. */
	t = (struct tx_ctx){.result = DB_ERROR};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_CONFLICT); /* "try1" exists */
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 2);
	/* Another connection of the pool sees the committed rows. */
	db_conn *c2 = db_acquire(f->pool);
	assert_int_equal(count_rows(c2, "SELECT COUNT(*) FROM scratch"), 2);
	db_release(f->pool, c2);
}

static void test_transaction_retry(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	/* DB_RETRY twice, then success: three runs, only the last one's rows. */
	struct tx_ctx t = {.retry_until = 3, .result = DB_OK};
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_OK);
	assert_int_equal(t.attempts, 3);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 2);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch WHERE name = 'try3'"), 1);
	assert_int_equal(
	    count_rows(f->c, "SELECT COUNT(*) FROM scratch WHERE name IN ('try1', 'try2')"), 0);

	/* Always DB_RETRY: it gives up within its time budget (3 s), and tells
	 * the thread the store was too busy (espd answers 503, not 500). */
	assert_int_equal(DB_EXEC0(f->c, "DELETE FROM scratch", NULL), DB_OK);
	t = (struct tx_ctx){.retry_until = 1000, .result = DB_OK};
	db_store_busy_reset();
	int64_t t0 = time_now_us();
	assert_int_equal(db_transaction(f->c, tx_body, &t), DB_RETRY);
	int64_t ms = (time_now_us() - t0) / 1000;
	assert_true(t.attempts > 1 && t.attempts <= 64);
	assert_true(ms >= 1000 && ms < 4000);
	assert_true(db_store_busy());
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 0);
}

/* ---- the pool from two threads ----------------------------------------------- */

struct pool_thread {
	db_pool *pool;
	pthread_barrier_t *barrier;
	int id, iters;
	db_conn **held; /* [iters][2] when the barrier is used */
	int *inside, *max_inside;
	pthread_mutex_t *lock;
	int failures;
};

static void *pool_worker(void *arg)
{
	struct pool_thread *t = arg;
	for (int i = 0; i < t->iters; i++) {
		db_conn *c = db_acquire(t->pool);
		pthread_mutex_lock(t->lock);
		(*t->inside)++;
		if (*t->inside > *t->max_inside)
			*t->max_inside = *t->inside;
		pthread_mutex_unlock(t->lock);
		if (t->barrier) {
			/* Both threads hold a connection at the same time here. */
			t->held[i * 2 + t->id] = c;
			pthread_barrier_wait(t->barrier);
		}
		char name[32];
		snprintf(name, sizeof name, "%s-t%d-%d", t->barrier ? "both" : "turns", t->id, i);
		enum db_status st = insert_name(c, name);
		if (st != DB_OK) {
			print_error("thread %d: insert %s: status %d\n", t->id, name, (int)st);
			t->failures++;
		}
		pthread_mutex_lock(t->lock);
		(*t->inside)--;
		pthread_mutex_unlock(t->lock);
		if (t->barrier)
			pthread_barrier_wait(t->barrier);
		db_release(t->pool, c);
	}
	return NULL;
}

static void run_pool_threads(const char *target, int size, bool barrier, int iters, int *max_inside)
{
	const char *err = NULL;
	db_pool *p = db_pool_open(target, size, &err);
	assert_non_null(p);
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, 2);
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int inside = 0;
	*max_inside = 0;
	db_conn **held = xcalloc((size_t)iters * 2, sizeof(*held));
	struct pool_thread t[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		t[i] = (struct pool_thread){.pool = p,
		                            .barrier = barrier ? &bar : NULL,
		                            .id = i,
		                            .iters = iters,
		                            .held = held,
		                            .inside = &inside,
		                            .max_inside = max_inside,
		                            .lock = &lock};
		assert_int_equal(pthread_create(&th[i], NULL, pool_worker, &t[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(t[0].failures + t[1].failures, 0);
	if (barrier)
		for (int i = 0; i < iters; i++)
			assert_ptr_not_equal(held[i * 2], held[i * 2 + 1]);
	/* Every connection came back: all of them can be taken at once. */
	db_conn *all[2] = {NULL, NULL};
	for (int i = 0; i < size; i++)
		all[i] = db_acquire(p);
	for (int i = 0; i < size; i++)
		db_release(p, all[i]);
	free(held);
	pthread_barrier_destroy(&bar);
	db_pool_close(p);
}

static void test_pool_two_threads(void **state)
{
	struct fixture *f = *state;
	make_scratch(f);
	int max_inside = 0;
	/* Two connections, two threads holding one each at the same time. */
	run_pool_threads(f->target, 2, true, 20, &max_inside);
	assert_int_equal(max_inside, 2);
	/* One connection shared by two threads: they take turns. */
	run_pool_threads(f->target, 1, false, 50, &max_inside);
	assert_int_equal(max_inside, 1);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 2 * 20 + 2 * 50);

	/* A pool with every connection taken: a timed wait gives up, says the
	 * store was busy, and a connection given back is taken again. */
	const char *err = NULL;
	db_pool *p = db_pool_open(f->target, 1, &err);
	assert_non_null(p);
	db_conn *held = db_acquire(p);
	db_store_busy_reset();
	int64_t t0 = time_now_us();
	assert_null(db_acquire_wait(p, 200));
	int64_t ms = (time_now_us() - t0) / 1000;
	assert_true(ms >= 190 && ms < 2000);
	assert_true(db_store_busy());
	db_release(p, held);
	db_store_busy_reset();
	db_conn *again = db_acquire_wait(p, 200);
	assert_ptr_equal(again, held);
	assert_false(db_store_busy());
	db_release(p, again);
	db_pool_close(p);
}

/* ---- base data and the authority tree ---------------------------------------- */

static void test_seed_base(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM provinces"), 32);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM authorities"), 35);
	assert_int_equal(
	    count_rows(f->c, "SELECT COUNT(*) FROM authorities WHERE level = 'provincial'"), 32);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM authorities WHERE level = 'river'"),
	                 2);
	assert_true(province_exists(f->c, "32"));
	assert_true(province_exists(f->c, "XJBT"));
	assert_false(province_exists(f->c, "66"));
	assert_false(province_exists(f->c, NULL));

	int64_t ministry = authority_by_name(f->c, "交通运输部");
	assert_true(ministry > 0);
	assert_int_equal(authority_by_name(f->c, "不存在"), 0);
	struct arena *a = arena_new();
	const char *name = NULL, *path = NULL, *prov = NULL;
	assert_int_equal(authority_get(f->c, a, ministry, &name, &path, &prov), DB_OK);
	assert_string_equal(name, "交通运输部");
	assert_string_equal(path, "/1/");
	assert_null(prov);
	/* The first provincial authority is the second row: "/1/2/". */
	assert_int_equal(authority_get(f->c, a, 2, &name, &path, &prov), DB_OK);
	assert_string_equal(name, "北京市交通委员会");
	assert_string_equal(path, "/1/2/");
	assert_string_equal(prov, "11");
	int64_t js = authority_by_name(f->c, "江苏省交通运输厅");
	assert_int_equal(authority_get(f->c, a, js, NULL, &path, &prov), DB_OK);
	assert_string_equal(path, arena_printf(a, "/1/%lld/", (long long)js));
	assert_string_equal(prov, "32");
	assert_int_equal(authority_get(f->c, a, 99999, &name, NULL, NULL), DB_NOT_FOUND);

	/* Every authority below the ministry: path "/1/<id>/", parent the ministry. */
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(f->c, "SELECT id, path, parent_id FROM authorities WHERE id <> $1",
	                         &r, P_INT(ministry)),
	                 DB_OK);
	assert_int_equal(r->nrows, 34);
	for (int i = 0; i < r->nrows; i++) {
		assert_string_equal(db_get(r, i, 1), arena_printf(a, "/1/%s/", db_get(r, i, 0)));
		assert_int_equal(db_get_int(r, i, 2, 0), ministry);
	}
	db_result_free(r);
	/* The rivers belong to no province. */
	assert_int_equal(count_rows(f->c,
	                            "SELECT COUNT(*) FROM authorities WHERE level = 'river' "
	                            "AND province_code IS NULL AND name IN ('长江航务管理局', "
	                            "'珠江航务管理局')"),
	                 2);

	/* Lists for the pages. */
	struct arena *ar = arena_new();
	struct province *plist;
	size_t np;
	assert_int_equal(province_list(f->c, ar, &plist, &np), DB_OK);
	assert_int_equal(np, 32);
	assert_string_equal(plist[0].code, "11");
	assert_string_equal(plist[31].code, "XJBT");
	struct authority *alist;
	size_t na;
	assert_int_equal(authority_list(f->c, ar, &alist, &na), DB_OK);
	assert_int_equal(na, 35);
	assert_string_equal(alist[0].name, "交通运输部");
	assert_int_equal(alist[0].depth, 0);
	assert_null(alist[0].province_code);
	for (size_t i = 1; i < na; i++)
		assert_int_equal(alist[i].depth, 1);
	arena_free(ar);

	/* The seed is audited. */
	int64_t checked = 0;
	assert_int_equal(audit_verify(f->c, &checked), 0);
	assert_int_equal(checked, 1);
	arena_free(a);
}

static void test_seed_base_twice(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	assert_int_equal(seed_base(f->c), DB_CONFLICT);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM provinces"), 32);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM authorities"), 35);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM audit_log"), 1);
	int64_t checked = 0;
	assert_int_equal(audit_verify(f->c, &checked), 0);
}

struct insert_ctx {
	int64_t parent;
	const char *name, *prov, *level;
	int64_t id;
};

static enum db_status insert_tx(db_conn *c, void *arg)
{
	struct insert_ctx *x = arg;
	return authority_insert(c, x->parent, x->name, x->prov, x->level, &x->id);
}

static void test_authority_insert(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct arena *a = arena_new();
	int64_t js = authority_by_name(f->c, "江苏省交通运输厅");
	const char *js_path = NULL, *path = NULL, *prov = NULL;
	assert_int_equal(authority_get(f->c, a, js, NULL, &js_path, NULL), DB_OK);

	struct insert_ctx city = {
	    .parent = js, .name = "南京市交通运输局", .prov = "32", .level = "city"};
	assert_int_equal(db_transaction(f->c, insert_tx, &city), DB_OK);
	assert_true(city.id > 35);
	assert_int_equal(authority_get(f->c, a, city.id, NULL, &path, &prov), DB_OK);
	assert_string_equal(path, arena_printf(a, "%s%lld/", js_path, (long long)city.id));
	assert_string_equal(prov, "32");

	struct insert_ctx county = {
	    .parent = city.id, .name = "江宁区交通运输局", .prov = "32", .level = "county"};
	assert_int_equal(db_transaction(f->c, insert_tx, &county), DB_OK);
	assert_int_equal(authority_get(f->c, a, county.id, NULL, &path, NULL), DB_OK);
	assert_string_equal(path, arena_printf(a, "/1/%lld/%lld/%lld/", (long long)js,
	                                       (long long)city.id, (long long)county.id));
	/* The subtree of 江苏 by path prefix: itself, the city, the county. */
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(f->c, "SELECT COUNT(*) FROM authorities WHERE path LIKE $1", &r,
	                         P_TEXT(arena_printf(a, "%s%%", js_path))),
	                 DB_OK);
	assert_int_equal(db_get_int(r, 0, 0, 0), 3);
	db_result_free(r);

	/* A parent that does not exist; a name taken: nothing is left behind. */
	struct insert_ctx orphan = {.parent = 99999, .name = "孤儿", .level = "city"};
	assert_int_equal(db_transaction(f->c, insert_tx, &orphan), DB_NOT_FOUND);
	struct insert_ctx dup = {
	    .parent = js, .name = "南京市交通运输局", .prov = "32", .level = "city"};
	assert_int_equal(db_transaction(f->c, insert_tx, &dup), DB_CONFLICT);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM authorities"), 37);
	/* A root. */
	struct insert_ctx root = {.parent = 0, .name = "另一个根", .level = "ministry"};
	assert_int_equal(db_transaction(f->c, insert_tx, &root), DB_OK);
	assert_int_equal(authority_get(f->c, a, root.id, NULL, &path, NULL), DB_OK);
	assert_string_equal(path, arena_printf(a, "/%lld/", (long long)root.id));
	arena_free(a);
}

/* ---- accounts and login -------------------------------------------------------- */

static void test_account_login(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct esp_limits el;
	limits_load(f->c, &el);
	assert_int_equal(el.login_max_failures, 5);
	assert_int_equal(el.login_lockout_seconds, 900);
	struct login_limits l = {.per_user_address = el.login_max_failures,
	                         .per_user = 20,
	                         .per_address = 100,
	                         .window_seconds = el.login_lockout_seconds,
	                         .checks_per_second = 0};
	const char *ip = "192.0.2.1";

	int64_t id = 0, got = 0, locked = -1;
	assert_int_equal(
	    account_create(f->c, "alice", "correct horse", ROLE_APPLICANT, "张三", 0, NULL, 0, &id),
	    DB_OK);
	assert_true(id > 0);
	assert_int_equal(
	    account_create(f->c, "alice", "other", ROLE_APPLICANT, "", 0, NULL, 0, NULL),
	    DB_CONFLICT);
	/* Only an Argon2id hash is stored. */
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(f->c, "SELECT password_hash FROM accounts WHERE id = $1", &r, P_INT(id)),
	    DB_OK);
	assert_true(strncmp(db_get(r, 0, 0), "$argon2id$", 10) == 0);
	assert_null(strstr(db_get(r, 0, 0), "correct horse"));
	db_result_free(r);

	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked), LOGIN_OK);
	assert_int_equal(got, id);
	assert_int_equal(locked, 0);
	assert_int_equal(
	    account_login(f->c, &l, ip, "nobody", "correct horse", false, &got, &locked),
	    LOGIN_BAD);

	/* Four failures are counted; a success clears them. */
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(
		    account_login(f->c, &l, ip, "alice", "wrong", false, &got, &locked), LOGIN_BAD);
		assert_int_equal(locked, 0);
		assert_int_equal(count_rows(f->c, "SELECT count FROM rate_limits "
		                                  "WHERE key = 'login:user-addr:alice|192.0.2.1'"),
		                 i);
	}
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked), LOGIN_OK);
	assert_int_equal(
	    count_rows(f->c, "SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'login:user%alice%'"),
	    0);
	/* The address keeps its failures (one per wrong password), not the success. */
	assert_int_equal(
	    count_rows(f->c, "SELECT count FROM rate_limits WHERE key = 'login:addr:192.0.2.1'"),
	    5);

	/* The fifth failure in a row locks for 15 minutes. */
	for (int i = 1; i <= 4; i++)
		assert_int_equal(
		    account_login(f->c, &l, ip, "alice", "wrong", false, &got, &locked), LOGIN_BAD);
	assert_int_equal(account_login(f->c, &l, ip, "alice", "wrong", false, &got, &locked),
	                 LOGIN_LOCKED);
	assert_true(locked > 890 && locked <= 900);
	/* Locked: even the right password is refused, with the time left. */
	got = 0;
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked),
	    LOGIN_LOCKED);
	assert_true(locked > 890 && locked <= 900);
	assert_int_equal(got, 0);
	/* ... from that address only: the same account from another one logs in. */
	assert_int_equal(
	    account_login(f->c, &l, "192.0.2.2", "alice", "correct horse", false, &got, &locked),
	    LOGIN_OK);
	/* When the lock has run out, the right password works. */
	for (int i = 1; i <= 5; i++)
		account_login(f->c, &l, ip, "alice", "wrong", false, &got, &locked);
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked),
	    LOGIN_LOCKED);
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE rate_limits SET window_end = $1", NULL, P_INT(time_now())),
	    DB_OK);
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked), LOGIN_OK);

	/* Disabled accounts. */
	assert_int_equal(account_set_status(f->c, "alice", "disabled"), DB_OK);
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked),
	    LOGIN_DISABLED);
	assert_int_equal(account_login(f->c, &l, ip, "alice", "wrong", false, &got, &locked),
	                 LOGIN_BAD);
	assert_int_equal(account_set_status(f->c, "alice", "active"), DB_OK);
	assert_int_equal(
	    account_login(f->c, &l, ip, "alice", "correct horse", false, &got, &locked), LOGIN_OK);
	assert_int_equal(account_set_status(f->c, "nobody", "disabled"), DB_NOT_FOUND);

	/* Staff log in with a certificate unless password login is allowed. */
	int64_t js = authority_by_name(f->c, "江苏省交通运输厅");
	int64_t rid = 0;
	assert_int_equal(account_create(f->c, "reviewer", "staff secret", ROLE_REVIEWER, "李四", js,
	                                NULL, 0, &rid),
	                 DB_OK);
	assert_int_equal(
	    account_login(f->c, &l, ip, "reviewer", "staff secret", false, &got, &locked),
	    LOGIN_STAFF_NEEDS_CERT);
	assert_int_equal(
	    account_login(f->c, &l, ip, "reviewer", "staff secret", true, &got, &locked), LOGIN_OK);
	assert_int_equal(got, rid);
	assert_int_equal(account_login(f->c, &l, ip, "reviewer", "wrong", true, &got, &locked),
	                 LOGIN_BAD);
	/* An account without a password (certificate only) never logs in by password. */
	assert_int_equal(account_create(f->c, "ra", NULL, ROLE_RA, "", 0, "32", 0, NULL), DB_OK);
	assert_int_equal(account_login(f->c, &l, ip, "ra", "", true, &got, &locked), LOGIN_BAD);
	assert_int_equal(account_login(f->c, &l, ip, "ra", "anything", true, &got, &locked),
	                 LOGIN_BAD);
	/* A province that does not exist is refused. */
	assert_int_equal(account_create(f->c, "ra2", NULL, ROLE_RA, "", 0, "99", 0, NULL),
	                 DB_CONFLICT);
}

/* The limits besides the account's own lockout: one address guessing
 * across user names, one user name guessed from many addresses, and the
 * store-wide cap of checks per second. */
static void test_account_login_limits(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct login_limits l = {.per_user_address = 5,
	                         .per_user = 3,
	                         .per_address = 4,
	                         .window_seconds = 900,
	                         .checks_per_second = 0};
	int64_t got = 0, wait = 0;
	assert_int_equal(
	    account_create(f->c, "bob", "bob's secret", ROLE_APPLICANT, "", 0, NULL, 0, NULL),
	    DB_OK);
	/* One address, four user names: the fifth guess waits, a right password too. */
	for (int i = 0; i < 4; i++) {
		char *u = xasprintf("nobody%d", i);
		assert_int_equal(
		    account_login(f->c, &l, "198.51.100.1", u, "x", false, &got, &wait), LOGIN_BAD);
		free(u);
	}
	assert_int_equal(
	    account_login(f->c, &l, "198.51.100.1", "bob", "bob's secret", false, &got, &wait),
	    LOGIN_ADDRESS_THROTTLED);
	assert_true(wait > 890 && wait <= 900);
	/* Refused before any check: the user name's own counts did not move. */
	assert_int_equal(count_rows(f->c, "SELECT COALESCE(SUM(count), 0) FROM rate_limits "
	                                  "WHERE key LIKE 'login:user%bob%'"),
	                 0);
	/* bob guessed from three addresses: locked from every address. */
	for (int i = 0; i < 3; i++) {
		char *ip = xasprintf("198.51.100.%d", 10 + i);
		enum login_result want = i < 2 ? LOGIN_BAD : LOGIN_LOCKED;
		assert_int_equal(account_login(f->c, &l, ip, "bob", "wrong", false, &got, &wait),
		                 want);
		free(ip);
	}
	assert_int_equal(
	    account_login(f->c, &l, "198.51.100.99", "bob", "bob's secret", false, &got, &wait),
	    LOGIN_LOCKED);
	/* The store-wide cap: one check a second, the next waits a second. */
	struct login_limits g = {.checks_per_second = 1, .window_seconds = 900};
	int64_t t0 = time_now();
	enum login_result first =
	    account_login(f->c, &g, "203.0.113.1", "x", "y", false, &got, &wait);
	enum login_result second =
	    account_login(f->c, &g, "203.0.113.2", "x", "y", false, &got, &wait);
	if (time_now() == t0) { /* both in the same second */
		assert_int_equal(first, LOGIN_BAD);
		assert_int_equal(second, LOGIN_BUSY);
		assert_int_equal(wait, 1);
	}
}

/* ---- sessions ------------------------------------------------------------------ */

static void insert_session(db_conn *c, const char *cookie, int64_t account, int64_t expires)
{
	char hash[65];
	sha256_hex(cookie, strlen(cookie), hash);
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO sessions (id_hash, account_id, csrf, method, cert_serial, "
	            "created_at, expires_at, last_seen, idle_seconds) "
	            "VALUES ($1, $2, $3, $4, $5, $6, $7, $6, 3600)",
	            NULL, P_TEXT(hash), P_INT(account), P_TEXT("csrf-direct"), P_TEXT("password"),
	            P_NULL, P_INT(time_now() - 100), P_INT(expires)),
	    DB_OK);
}

/* The base tree, the reviewer "rev" (王五) of 江苏省交通运输厅 and an hour's session. */
static void reviewer_session(db_conn *c, int64_t *js, int64_t *id, char **cookie, char **csrf)
{
	assert_int_equal(seed_base(c), DB_OK);
	*js = authority_by_name(c, "江苏省交通运输厅");
	assert_int_equal(account_create(c, "rev", "pw", ROLE_REVIEWER, "王五", *js, NULL, 0, id),
	                 DB_OK);
	assert_int_equal(session_create(c, *id, "password", NULL, 3600, cookie, csrf), DB_OK);
}

static void test_sessions(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	assert_int_equal(strlen(cookie), 43);
	assert_int_equal(strlen(csrf), 32);

	/* The store holds only the hash of the cookie. */
	char hash[65];
	sha256_hex(cookie, strlen(cookie), hash);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC0(f->c, "SELECT id_hash, expires_at - created_at FROM sessions", &r), DB_OK);
	assert_int_equal(r->nrows, 1);
	assert_string_equal(db_get(r, 0, 0), hash);
	assert_int_equal(db_get_int(r, 0, 1, 0), 3600);
	db_result_free(r);

	struct arena *a = arena_new();
	struct actor act;
	char *csrf2 = NULL;
	assert_int_equal(session_lookup(f->c, a, cookie, &act, &csrf2), DB_OK);
	assert_int_equal(act.account_id, id);
	assert_int_equal(act.role, ROLE_REVIEWER);
	assert_string_equal(act.username, "rev");
	assert_string_equal(act.display_name, "王五");
	assert_int_equal(act.authority_id, js);
	assert_string_equal(act.authority_path, arena_printf(a, "/1/%lld/", (long long)js));
	assert_string_equal(act.authority_name, "江苏省交通运输厅");
	assert_string_equal(act.session_method, "password");
	assert_null(act.cert_serial);
	assert_string_equal(csrf2, csrf);
	/* Without asking for the CSRF token. */
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);

	/* Unknown, malformed and missing cookies. */
	char *other = random_token(32);
	assert_int_equal(session_lookup(f->c, a, other, &act, NULL), DB_NOT_FOUND);
	free(other);
	assert_int_equal(session_lookup(f->c, a, "short", &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_lookup(f->c, a, NULL, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_lookup(f->c, a, hash, &act, NULL), DB_NOT_FOUND);

	/* Expired: a session whose expires_at has passed is not found; one
	 * inserted the same way but still valid is. */
	const char *old = "expired-cookie-0123456789abcdefghijklmnop";
	const char *fresh = "fresh-cookie-0123456789abcdefghijklmnopqr";
	insert_session(f->c, old, id, time_now() - 10);
	insert_session(f->c, fresh, id, time_now() + 600);
	assert_int_equal(session_lookup(f->c, a, old, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_lookup(f->c, a, fresh, &act, &csrf2), DB_OK);
	assert_string_equal(csrf2, "csrf-direct");

	/* A disabled account has no sessions, even ones left in the table. */
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE accounts SET status = 'disabled' WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE accounts SET status = 'active' WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	/* Disabling through account_set_status ends them for good. */
	assert_int_equal(account_set_status(f->c, "rev", "disabled"), DB_OK);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM sessions"), 0);
	assert_int_equal(account_set_status(f->c, "rev", "active"), DB_OK);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);
	free(cookie);
	free(csrf);

	/* Logout. */
	assert_int_equal(session_create(f->c, id, "password", NULL, 60, &cookie, NULL), DB_OK);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	assert_int_equal(session_destroy(f->c, cookie), DB_OK);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_destroy(f->c, cookie), DB_OK);
	assert_int_equal(session_destroy(f->c, NULL), DB_OK);
	free(cookie);
	/* A session for an account that does not exist. */
	cookie = NULL;
	assert_int_equal(session_create(f->c, 99999, "password", NULL, 60, &cookie, NULL),
	                 DB_CONFLICT);
	assert_null(cookie);
	arena_free(a);
}

/* Purging deletes exactly the sessions that have ended. */
static void test_session_purge(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	char *old = random_token(32);
	insert_session(f->c, old, id, time_now() - 10);
	int n = -1;
	assert_int_equal(session_purge_expired(f->c, time_now(), &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM sessions"), 1);
	struct arena *a = arena_new();
	struct actor act;
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	assert_int_equal(session_lookup(f->c, a, old, &act, NULL), DB_NOT_FOUND);
	/* Nothing left to purge; and a later clock takes the hour-long one too. */
	assert_int_equal(session_purge_expired(f->c, time_now(), &n), DB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(session_purge_expired(f->c, time_now() + 7200, NULL), DB_OK);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM sessions"), 0);
	arena_free(a);
	free(old);
	free(cookie);
	free(csrf);
}

/* The session cache answers as the store would for as long as the sessions'
 * generation holds, and every change that could alter an answer moves it. */
static int64_t gen_of(db_conn *c, enum generation g)
{
	int64_t v[GEN_COUNT];
	assert_true(generations_read(c, v));
	assert_true(v[g] >= 0);
	return v[g];
}

/* Generations read again at once whatever commits them: this connection,
 * another of its pool, or another pool on the same store (as espctl or a
 * second espd would), though a reader that saw no commit runs no statement
 * on SQLite (db_commit_mark). */
static enum db_status bump_in_tx(db_conn *c, void *ctx)
{
	(void)ctx;
	struct db_mark m;
	/* Inside a transaction its own changes are not committed yet. */
	assert_false(db_commit_mark(c, &m));
	return DB_EXEC0(c, "UPDATE generations SET value = value + 1 WHERE name = 'registrations'",
	                NULL);
}

static void test_generations_other_writers(void **state)
{
	struct fixture *f = *state;
	struct db_mark m0, m1;
	bool marked = db_commit_mark(f->c, &m0);
	assert_int_equal(marked, !f->pg); /* SQLite can tell, PostgreSQL cannot */
	int64_t s0 = gen_of(f->c, GEN_SESSIONS), r0 = gen_of(f->c, GEN_REGISTRATIONS);
	if (marked) {
		assert_true(db_commit_mark(f->c, &m1));
		assert_memory_equal(&m0, &m1, sizeof m0);
	}
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), s0);

	/* Another pool on the same store: its own connections and writer. */
	const char *err = NULL;
	db_pool *other = db_pool_open(f->target, 1, &err);
	assert_non_null(other);
	db_conn *c2 = db_acquire(other);
	assert_int_equal(
	    DB_EXEC0(c2, "UPDATE generations SET value = value + 1 WHERE name = 'sessions'", NULL),
	    DB_OK);
	if (marked) {
		assert_true(db_commit_mark(f->c, &m1));
		assert_memory_not_equal(&m0, &m1, sizeof m0);
	}
	int64_t s1 = gen_of(f->c, GEN_SESSIONS);
	assert_true(s1 > s0);
	assert_int_equal(gen_of(f->c, GEN_REGISTRATIONS), r0);
	db_release(other, c2);
	db_pool_close(other);

	/* Another connection of the same pool, in a transaction. */
	db_conn *c3 = db_acquire(f->pool);
	assert_int_equal(db_transaction(c3, bump_in_tx, NULL), DB_OK);
	db_release(f->pool, c3);
	assert_true(gen_of(f->c, GEN_REGISTRATIONS) > r0);
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), s1);
}

/* Waits up to ms for db_commit_mark to say `listening` (and give a mark
 * other than *not, when not is given); true when it did. */
static bool wait_mark(db_conn *c, bool listening, const struct db_mark * not, struct db_mark *m,
                      int ms)
{
	for (int t = 0; t < ms; t += 10) {
		bool got = db_commit_mark(c, m);
		if (got == listening && (!got || !not || memcmp(m, not, sizeof *m) != 0))
			return true;
		usleep(10000);
	}
	return false;
}

static void pq_ok(PGconn *pq, const char *sql)
{
	PGresult *r = PQexec(pq, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	assert_true(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* PostgreSQL's commit mark (db_pg_listen.c): none until a connection
 * listens; moved by a commit of any other process once its notification
 * arrives, by this process's own commits at once, never by reads; none
 * while the listening connection is lost, and a new one after it is back. */
static void test_pg_listen(void **state)
{
	struct fixture *f = *state;
	if (!f->pg) {
		/* SQLite's mark is its WAL index: nothing to start. */
		assert_true(db_listen_start(f->pool));
		db_listen_stop(f->pool);
		return;
	}
	struct db_mark m0, m1, m2;
	assert_false(db_commit_mark(f->c, &m0));
	assert_true(db_listen_start(f->pool));
	assert_true(wait_mark(f->c, true, NULL, &m0, 5000));

	/* Another process's write: a plain libpq session, not this db layer. */
	PGconn *raw = PQconnectdb(f->target);
	assert_int_equal(PQstatus(raw), CONNECTION_OK);
	bool listening = false;
	uint64_t n0 = 0, n1 = 0;
	db_listen_stats(&listening, &n0);
	assert_true(listening);
	int64_t s0 = gen_of(f->c, GEN_SESSIONS);
	assert_true(db_commit_mark(f->c, &m1));
	assert_memory_equal(&m0, &m1, sizeof m0); /* a read moved nothing */
	pq_ok(raw,
	      "UPDATE generations SET value = value + 1 WHERE name = 'sessions' AND shard = 0");
	assert_true(wait_mark(f->c, true, &m0, &m1, 2000));
	db_listen_stats(&listening, &n1);
	assert_true(n1 > n0);
	assert_true(gen_of(f->c, GEN_SESSIONS) > s0);
	/* A write outside the generations notifies nothing. */
	pq_ok(raw, "CREATE TABLE listen_t (x INTEGER)");
	usleep(200000);
	assert_true(db_commit_mark(f->c, &m2));
	assert_memory_equal(&m1, &m2, sizeof m1);

	/* This process's own commit moves it before its notification is back. */
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE generations SET value = value + 1 WHERE name = 'sessions'",
	             NULL),
	    DB_OK);
	assert_true(db_commit_mark(f->c, &m2));
	assert_memory_not_equal(&m1, &m2, sizeof m1);
	db_conn *c2 = db_acquire(f->pool);
	assert_true(db_commit_mark(c2, &m1));
	assert_int_equal(db_transaction(c2, bump_in_tx, NULL), DB_OK);
	assert_true(db_commit_mark(c2, &m0));
	assert_memory_not_equal(&m0, &m1, sizeof m0);
	db_release(f->pool, c2);

	/* The listening connection ended by the server: no mark (every reader
	 * runs its statement) until a new one listens, then a mark unlike any
	 * before. */
	assert_true(db_commit_mark(f->c, &m0));
	pq_ok(raw,
	      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
	      "'espd-listen' AND datname = current_database()");
	assert_true(wait_mark(f->c, false, NULL, &m1, 2000));
	db_listen_stats(&listening, &n1);
	assert_false(listening);
	pq_ok(raw,
	      "UPDATE generations SET value = value + 1 WHERE name = 'sessions' AND shard = 0");
	int64_t s1 = gen_of(f->c, GEN_SESSIONS);
	assert_true(wait_mark(f->c, true, &m0, &m1, 8000));
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), s1);

	db_listen_stop(f->pool);
	assert_false(db_commit_mark(f->c, &m1));
	PQfinish(raw);
}

/* Reading the commit mark must leave SQLite's locks on the -shm file in
 * place: another process (espctl, the sqlite3 shell) that finds no lock on
 * its DMS byte believes it is alone and truncates the file under this
 * process's mapping (SIGBUS in the next commit). */
static void test_commit_mark_keeps_shm_locks(void **state)
{
	struct fixture *f = *state;
	if (f->pg)
		return;
	struct db_mark m;
	assert_true(db_commit_mark(f->c, &m));
	char *shm = xasprintf("%s-shm", f->target);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* SQLite's DMS byte: 120 + 8 (os_unix.c UNIX_SHM_DMS). */
		int fd = open(shm, O_RDWR);
		struct flock lk = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
		bool held = fd >= 0 && fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
		_exit(held ? 0 : 1);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(shm);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE generations SET value = value + 1 WHERE name = 'sessions'",
	             NULL),
	    DB_OK);
}

/* A writer that commits steadily keeps its WAL bounded by checkpointing it
 * between its transactions (db_checkpoint_over): SQLite writes it from the
 * start again after a checkpoint that copied every frame.  Without that the
 * file grew by every frame written. */
static enum db_status insert_page(db_conn *c, void *arg)
{
	const char *note = arg;
	return DB_EXEC(c, "INSERT INTO scratch (note) VALUES ($1)", NULL, P_TEXT(note));
}

static void test_checkpoint_over(void **state)
{
	struct fixture *f = *state;
	if (f->pg) {
		assert_false(db_checkpoint_over(f->c, 1)); /* nothing to do there */
		return;
	}
	make_scratch(f);
	char note[3000];
	memset(note, 'x', sizeof note - 1);
	note[sizeof note - 1] = 0;
	char *wal = xasprintf("%s-wal", f->target);
	struct stat sb;
	off_t after_first = 0;
	for (int round = 0; round < 20; round++) {
		/* ~2 frames a transaction: above 100 frames after 60 of them. */
		for (int i = 0; i < 60; i++)
			assert_int_equal(db_transaction(f->c, insert_page, note), DB_OK);
		assert_false(db_checkpoint_over(f->c, 1000000)); /* under its threshold */
		assert_true(db_checkpoint_over(f->c, 100));
		assert_int_equal(stat(wal, &sb), 0);
		if (round == 1)
			after_first = sb.st_size;
	}
	/* The twenty rounds wrote ten times what two did, into the same file. */
	assert_true(after_first > 0);
	assert_true(sb.st_size <= after_first);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM scratch"), 20 * 60);
	free(wal);
}

static void test_session_cache(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	struct arena *a = arena_new();
	struct actor act;
	char *csrf2 = NULL;

	/* Opening a session moves nothing: the cache of the others stays good. */
	int64_t g0 = gen_of(f->c, GEN_SESSIONS);
	int64_t r0 = gen_of(f->c, GEN_REGISTRATIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g0, &act, &csrf2), DB_OK);
	assert_string_equal(act.display_name, "王五");
	assert_string_equal(act.authority_name, "江苏省交通运输厅");
	assert_string_equal(csrf2, csrf);
	assert_null(act.cert_serial);
	/* A hit (the strings copied out of the entry in one piece). */
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g0, &act, &csrf2), DB_OK);
	assert_string_equal(act.username, "rev");
	assert_string_equal(act.display_name, "王五");
	assert_string_equal(act.authority_name, "江苏省交通运输厅");
	assert_string_equal(act.session_method, "password");
	assert_string_equal(csrf2, csrf);
	assert_null(act.cert_serial);
	/* Each thread remembers the last cookie it hashed: a cookie of the same
	 * length that differs in its last character only, asked right after, is
	 * another cookie (unknown here), and the known one still answers. */
	char *near = xstrdup(cookie);
	near[strlen(near) - 1] = near[strlen(near) - 1] == 'A' ? 'B' : 'A';
	for (int round = 0; round < 2; round++) {
		assert_int_equal(session_lookup_cached(f->c, a, near, g0, &act, NULL),
		                 DB_NOT_FOUND);
		assert_int_equal(session_lookup_cached(f->c, a, cookie, g0, &act, NULL), DB_OK);
		assert_string_equal(act.username, "rev");
	}
	/* The near one once it is a session of its own. */
	insert_session(f->c, near, id, time_now() + 600);
	int64_t gn = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, near, gn, &act, &csrf2), DB_OK);
	assert_string_equal(csrf2, "csrf-direct");
	assert_int_equal(session_lookup_cached(f->c, a, cookie, gn, &act, &csrf2), DB_OK);
	assert_string_equal(csrf2, csrf);
	assert_int_equal(session_lookup_cached(f->c, a, near, gn, &act, &csrf2), DB_OK);
	assert_string_equal(csrf2, "csrf-direct");
	assert_int_equal(session_destroy(f->c, near), DB_OK);
	free(near);
	g0 = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g0, &act, NULL), DB_OK);
	/* Failed logins are no part of a session: no move either. */
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE accounts SET failed_logins = 2 WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), g0);

	/* A change behind the cache's back (SQL, not ESP's functions) moves the
	 * generation; under the old one the cached answer stands, which shows
	 * the cache is what answers; under the new one the store does. */
	assert_int_equal(DB_EXEC(f->c, "UPDATE accounts SET display_name = '赵六' WHERE id = $1",
	                         NULL, P_INT(id)),
	                 DB_OK);
	int64_t g1 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g1 > g0);
	assert_int_equal(gen_of(f->c, GEN_REGISTRATIONS), r0);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g0, &act, NULL), DB_OK);
	assert_string_equal(act.display_name, "王五");
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g1, &act, NULL), DB_OK);
	assert_string_equal(act.display_name, "赵六");
	/* -1 always asks the store. */
	assert_int_equal(session_lookup_cached(f->c, a, cookie, -1, &act, NULL), DB_OK);

	/* Renaming an authority moves both generations. */
	assert_int_equal(DB_EXEC(f->c,
	                         "UPDATE authorities SET name = '江苏省交通运输厅（新）' "
	                         "WHERE id = $1",
	                         NULL, P_INT(js)),
	                 DB_OK);
	int64_t g2 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g2 > g1);
	assert_true(gen_of(f->c, GEN_REGISTRATIONS) > r0);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g2, &act, NULL), DB_OK);
	assert_string_equal(act.authority_name, "江苏省交通运输厅（新）");

	/* Disabling the account: moved, and the session is gone. */
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE accounts SET status = 'disabled' WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);
	int64_t g3 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g3 > g2);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g3, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(
	    DB_EXEC(f->c, "UPDATE accounts SET status = 'active' WHERE id = $1", NULL, P_INT(id)),
	    DB_OK);

	/* Logout moves it too. */
	int64_t g4 = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g4, &act, NULL), DB_OK);
	assert_int_equal(session_destroy(f->c, cookie), DB_OK);
	int64_t g5 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g5 > g4);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g5, &act, NULL), DB_NOT_FOUND);
	free(cookie);
	free(csrf);

	/* Expiry is a matter of time, not of generations: a cached session ends
	 * when its time is up even while nothing moves. */
	assert_int_equal(session_create(f->c, id, "password", NULL, 1, &cookie, NULL), DB_OK);
	int64_t g6 = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g6, &act, NULL), DB_OK);
	sleep(2);
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), g6);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g6, &act, NULL), DB_NOT_FOUND);
	free(cookie);
	arena_free(a);
}

/* A session ends after its idle time without a request, and at its
 * absolute expiry however active; each use moves last_seen (about once a
 * minute) without moving the sessions' generation. */
static int64_t last_seen_of(db_conn *c, const char *cookie)
{
	char hash[65];
	sha256_hex(cookie, strlen(cookie), hash);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT last_seen FROM sessions WHERE id_hash = $1", &r, P_TEXT(hash)),
	    DB_OK);
	int64_t v = r->nrows ? db_get_int(r, 0, 0, 0) : -1;
	db_result_free(r);
	return v;
}

static void set_session_times(db_conn *c, const char *cookie, int64_t last_seen, int64_t expires)
{
	char hash[65];
	sha256_hex(cookie, strlen(cookie), hash);
	assert_int_equal(DB_EXEC(c,
	                         "UPDATE sessions SET last_seen = $1, expires_at = $2 "
	                         "WHERE id_hash = $3",
	                         NULL, P_INT(last_seen), P_INT(expires), P_TEXT(hash)),
	                 DB_OK);
}

static void test_session_idle(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	session_set_idle_seconds(1800);
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	struct arena *a = arena_new();
	struct actor act;
	int64_t now = time_now();
	/* The idle time is stored with the session, never past its lifetime. */
	assert_int_equal(count_rows(f->c, "SELECT idle_seconds FROM sessions"), 1800);
	assert_true(last_seen_of(f->c, cookie) >= now - 1);

	/* 29 minutes 50 seconds idle: still good, and the use moves last_seen. */
	set_session_times(f->c, cookie, now - 1790, now + 3000);
	int64_t g = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	assert_true(last_seen_of(f->c, cookie) >= now);
	/* Noting the use moves no generation: caches stay good. */
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), g);
	/* Used again within the minute: no second write. */
	set_session_times(f->c, cookie, now - 30, now + 3000);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	assert_int_equal(last_seen_of(f->c, cookie), now - 30);

	/* 30 minutes and a second idle: ended, and it stays ended. */
	set_session_times(f->c, cookie, now - 1801, now + 3000);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(last_seen_of(f->c, cookie), now - 1801);

	/* Active a second ago but past its absolute expiry: ended. */
	set_session_times(f->c, cookie, now - 1, now - 1);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_NOT_FOUND);

	/* Purging takes the idle ones as well as the expired ones. */
	set_session_times(f->c, cookie, now - 1801, now + 3000);
	char *other = NULL;
	assert_int_equal(session_create(f->c, id, "password", NULL, 3600, &other, NULL), DB_OK);
	int n = -1;
	assert_int_equal(session_purge_expired(f->c, time_now(), &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(session_lookup(f->c, a, other, &act, NULL), DB_OK);
	free(other);

	/* A lifetime shorter than the idle time caps it. */
	assert_int_equal(session_create(f->c, id, "password", NULL, 600, &other, NULL), DB_OK);
	assert_int_equal(count_rows(f->c, "SELECT MIN(idle_seconds) FROM sessions"), 600);
	free(other);
	arena_free(a);
	free(cookie);
	free(csrf);
}

/* The session cache never serves a session past its idle time, and a
 * cached session in use keeps the store's last_seen moving. */
static void test_session_cache_idle(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	free(cookie);
	struct arena *a = arena_new();
	struct actor act;

	/* Idle 2 s: cached, then left alone for 3 s under the same generation. */
	session_set_idle_seconds(2);
	assert_int_equal(session_create(f->c, id, "password", NULL, 3600, &cookie, NULL), DB_OK);
	int64_t g = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g, &act, NULL), DB_OK);
	sleep(3);
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), g);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g, &act, NULL), DB_NOT_FOUND);
	free(cookie);

	/* Idle 8 s (last_seen moves every 2 s): a hit from the cache after 3 s
	 * writes the use to the store, and moves no generation. */
	session_set_idle_seconds(8);
	assert_int_equal(session_create(f->c, id, "password", NULL, 3600, &cookie, NULL), DB_OK);
	int64_t created = last_seen_of(f->c, cookie);
	g = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g, &act, NULL), DB_OK);
	sleep(3);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g, &act, NULL), DB_OK);
	assert_true(last_seen_of(f->c, cookie) >= created + 3);
	assert_int_equal(gen_of(f->c, GEN_SESSIONS), g);
	free(cookie);
	session_set_idle_seconds(1800);
	arena_free(a);
	free(csrf);
}

/* ---- password changes ------------------------------------------------------------ */

/* A password login from one address, with limits that only the test that
 * means to reach them (max_failures) reaches. */
static enum login_result try_login(db_conn *c, const char *user, const char *pw, int max_failures)
{
	struct login_limits l = {.per_user_address = max_failures,
	                         .per_user = 100,
	                         .per_address = 1000,
	                         .window_seconds = 900,
	                         .checks_per_second = 0};
	int64_t got = 0, retry = 0;
	return account_login(c, &l, "192.0.2.9", user, pw, true, &got, &retry);
}

static int64_t sessions_of(db_conn *c, int64_t id)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT COUNT(*) FROM sessions WHERE account_id = $1", &r, P_INT(id)),
	    DB_OK);
	int64_t n = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return n;
}

static void test_password_change(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL, *other = NULL;
	struct esp_limits l;
	limits_load(f->c, &l);
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	assert_int_equal(session_create(f->c, id, "password", NULL, 3600, &other, NULL), DB_OK);
	struct arena *a = arena_new();
	struct actor act;
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	const char *why = NULL;

	assert_int_equal(
	    account_password_change(f->c, a, &l, &act, "wrong", "Tr4m-line-Fuzhou", cookie, &why),
	    PWCHANGE_WRONG_CURRENT);
	assert_int_equal(account_password_change(f->c, a, &l, &act, "pw", "12345678", cookie, &why),
	                 PWCHANGE_WEAK);
	assert_string_equal(why, "密码不能是连续的数字或字母（如12345678、abcdefgh）");
	assert_int_equal(account_password_change(f->c, a, &l, &act, "pw", "password", cookie, &why),
	                 PWCHANGE_WEAK);
	assert_string_equal(why, "该密码过于常见，很容易被猜中，请换一个");
	assert_int_equal(sessions_of(f->c, id), 2);

	int64_t g = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(
	    account_password_change(f->c, a, &l, &act, "pw", "Tr4m-line-Fuzhou", cookie, &why),
	    PWCHANGE_OK);
	/* The other session ended (and caches know it); this one goes on. */
	assert_true(gen_of(f->c, GEN_SESSIONS) > g);
	assert_int_equal(session_lookup(f->c, a, other, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(session_lookup(f->c, a, cookie, &act, NULL), DB_OK);
	assert_int_equal(try_login(f->c, "rev", "pw", 100), LOGIN_BAD);
	assert_int_equal(try_login(f->c, "rev", "Tr4m-line-Fuzhou", 100), LOGIN_OK);
	assert_int_equal(account_password_change(f->c, a, &l, &act, "Tr4m-line-Fuzhou",
	                                         "Tr4m-line-Fuzhou", cookie, &why),
	                 PWCHANGE_SAME);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                                  "'account.password_change'"),
	                 1);

	/* An account without a password (certificate only). */
	int64_t nopw = 0;
	assert_int_equal(
	    account_create(f->c, "certonly", NULL, ROLE_REVIEWER, "", js, NULL, 0, &nopw), DB_OK);
	struct actor cert_actor = {.account_id = nopw, .username = "certonly"};
	assert_int_equal(
	    account_password_change(f->c, a, &l, &cert_actor, "", "Tr4m-line-Fuzhou", NULL, &why),
	    PWCHANGE_NO_PASSWORD);
	free(other);
	free(cookie);
	free(csrf);
	arena_free(a);
}

static void test_password_reset(void **state)
{
	struct fixture *f = *state;
	int64_t js = 0, id = 0;
	char *cookie = NULL, *csrf = NULL;
	struct esp_limits l;
	limits_load(f->c, &l);
	reviewer_session(f->c, &js, &id, &cookie, &csrf);
	struct arena *a = arena_new();
	struct actor act;
	int64_t g = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g, &act, NULL), DB_OK);
	assert_false(act.must_change_password);
	/* Locked out after two failures: even the right password is refused. */
	assert_int_equal(try_login(f->c, "rev", "wrong", 2), LOGIN_BAD);
	assert_int_equal(try_login(f->c, "rev", "wrong", 2), LOGIN_LOCKED);
	assert_int_equal(try_login(f->c, "rev", "pw", 2), LOGIN_LOCKED);

	struct actor admin = {.username = "admin", .role = ROLE_ADMIN};
	char *once = NULL;
	assert_int_equal(account_password_reset(f->c, &admin, "nobody", &once), DB_NOT_FOUND);
	assert_null(once);
	assert_int_equal(account_password_reset(f->c, &admin, "rev", &once), DB_OK);
	assert_int_equal(strlen(once), 16);
	/* Every session of the account ended, cached ones too. */
	int64_t g2 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g2 > g);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g2, &act, NULL), DB_NOT_FOUND);
	assert_int_equal(sessions_of(f->c, id), 0);
	free(cookie);

	/* The lockout is lifted and the old password gone; the one-time
	 * password logs in, and the session says it must be changed. */
	assert_int_equal(try_login(f->c, "rev", once, 2), LOGIN_OK);
	assert_int_equal(try_login(f->c, "rev", "pw", 100), LOGIN_BAD);
	assert_int_equal(session_create(f->c, id, "password", NULL, 3600, &cookie, NULL), DB_OK);
	int64_t g3 = gen_of(f->c, GEN_SESSIONS);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g3, &act, NULL), DB_OK);
	assert_true(act.must_change_password);

	/* Changing it clears the flag, and the cache learns it. */
	const char *why = NULL;
	assert_int_equal(
	    account_password_change(f->c, a, &l, &act, once, "Tr4m-line-Fuzhou", cookie, &why),
	    PWCHANGE_OK);
	int64_t g4 = gen_of(f->c, GEN_SESSIONS);
	assert_true(g4 > g3);
	assert_int_equal(session_lookup_cached(f->c, a, cookie, g4, &act, NULL), DB_OK);
	assert_false(act.must_change_password);
	assert_int_equal(count_rows(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                                  "'account.password_reset'"),
	                 1);
	free(once);
	free(cookie);
	free(csrf);
	arena_free(a);
}

/* ---- the audit log --------------------------------------------------------------- */

static void test_audit_chain(void **state)
{
	struct fixture *f = *state;
	struct actor who = {
	    .account_id = 7, .role = ROLE_ADMIN, .username = "admin", .address = "192.0.2.1"};
	int64_t checked = -1;
	assert_int_equal(audit_verify(f->c, &checked), 0);
	assert_int_equal(checked, 0);
	assert_int_equal(audit_append(f->c, &who, "registration.approve", "registration:1",
	                              "{\"state\":\"pending\"}", "{\"state\":\"approved\"}"),
	                 DB_OK);
	assert_int_equal(
	    audit_append(f->c, &who, "fee.set", "fee:1", "{\"元\":100}", "{\"元\":120}"), DB_OK);
	assert_int_equal(audit_append(f->c, NULL, "system.crl", "crl", NULL, NULL), DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 0);
	assert_int_equal(checked, 3);

	/* The chain: each entry names the previous one's hash. */
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(f->c,
	                          "SELECT seq, prev_hash, hash, actor, actor_id FROM audit_log "
	                          "ORDER BY seq",
	                          &r),
	                 DB_OK);
	assert_int_equal(r->nrows, 3);
	assert_string_equal(db_get(r, 0, 1), "");
	assert_string_equal(db_get(r, 1, 1), db_get(r, 0, 2));
	assert_string_equal(db_get(r, 2, 1), db_get(r, 1, 2));
	assert_string_equal(db_get(r, 2, 3), "system");
	assert_int_equal(db_get_int(r, 0, 4, 0), 7);
	assert_null(db_get(r, 2, 4));
	db_result_free(r);

	/* Changing what an entry says breaks the chain at that entry. */
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE audit_log SET after_state = '{\"元\":999}' WHERE seq = 2", NULL),
	    DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 2);
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE audit_log SET after_state = '{\"元\":120}' WHERE seq = 2", NULL),
	    DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 0);
	/* So does changing who or when. */
	assert_int_equal(DB_EXEC0(f->c, "UPDATE audit_log SET at = at + 1 WHERE seq = 3", NULL),
	                 DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 3);
	assert_int_equal(DB_EXEC0(f->c, "UPDATE audit_log SET at = at - 1 WHERE seq = 3", NULL),
	                 DB_OK);
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE audit_log SET actor = 'someone' WHERE seq = 1", NULL), DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 1);
	assert_int_equal(DB_EXEC0(f->c, "UPDATE audit_log SET actor = 'admin' WHERE seq = 1", NULL),
	                 DB_OK);
	/* Removing an entry breaks the chain after it. */
	assert_int_equal(DB_EXEC0(f->c, "DELETE FROM audit_log WHERE seq = 2", NULL), DB_OK);
	assert_int_equal(audit_verify(f->c, &checked), 3);
}

/* ---- the prefix test of db.h (the authority subtree) ---------------------------- */

static int64_t authority_at(db_conn *c, const char *name, const char *path)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c,
	                         "INSERT INTO authorities (name, level, path, created_at) "
	                         "VALUES ($1, 'city', $2, 0) RETURNING id",
	                         &r, P_TEXT(name), P_TEXT(path)),
	                 DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

#define PREFIX_NAMES(PREFIX)                                                                       \
	"SELECT name FROM authorities WHERE " PREFIX("path", "$1") " ORDER BY name"
static const struct db_sql prefix_names = DB_SQL(PREFIX_NAMES);

/* The names whose path starts with prefix, joined by spaces. */
static char *names_under(db_conn *c, const char *prefix)
{
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(c, db_sql(c, &prefix_names), &r, P_TEXT(prefix)), DB_OK);
	struct buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < r->nrows; i++)
		buf_printf(&b, "%s%s", i ? " " : "", db_get(r, i, 0));
	db_result_free(r);
	return buf_steal(&b);
}

static void test_prefix(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(db_sql(f->c, &prefix_names), f->pg ? PREFIX_NAMES(DB_PREFIX_POSTGRESQL)
	                                                       : PREFIX_NAMES(DB_PREFIX_SQLITE));
	authority_at(f->c, "a", "/1/");
	authority_at(f->c, "b", "/1/14/");
	authority_at(f->c, "c", "/1/14/3/");
	authority_at(f->c, "d", "/1/140/");
	authority_at(f->c, "e", "/1/15/");
	authority_at(f->c, "f", "/1/1/");
	/* Not a pattern: '_' and '%' are themselves. */
	authority_at(f->c, "g", "/x_y/");
	authority_at(f->c, "h", "/xzy/");
	authority_at(f->c, "i", "/x%/1/");
	/* Characters beyond ASCII: 申 is the code point after 甲. */
	authority_at(f->c, "j", "/甲/");
	authority_at(f->c, "k", "/甲乙/");
	authority_at(f->c, "l", "/申/");
	const char *cases[][2] = {
	    {"/1/14/", "b c"}, {"/1/", "a b c d e f"}, {"/1/1", "b c d e f"}, {"/x_", "g"},
	    {"/x%", "i"},      {"/甲", "j k"},         {"/甲/", "j"},         {"/9/", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = names_under(f->c, cases[i][0]);
		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("prefix %s: got \"%s\", want \"%s\"", cases[i][0], got,
			         cases[i][1]);
		free(got);
	}
}

/* db_exec_once gives the rows of its values each time, and on PostgreSQL
 * keeps no prepared statement (one kept would run a generic plan after five
 * runs, what it is for avoiding); the same text through db_exec is kept. */
static void test_exec_once(void **state)
{
	struct fixture *f = *state;
	static const char *sql = "SELECT $1 * 2 + 0 AS x";
	for (int i = 0; i < 8; i++) {
		db_result *r = NULL;
		struct db_param p[1] = {P_INT(i)};
		assert_int_equal(db_exec_once(f->c, sql, p, 1, &r), DB_OK);
		assert_int_equal(r->nrows, 1);
		assert_int_equal(db_get_int(r, 0, 0, -1), 2 * i);
		db_result_free(r);
	}
	if (!f->pg)
		return;
	const char *kept = "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = $1";
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(f->c, kept, &r, P_TEXT(sql)), DB_OK);
	assert_int_equal(db_get_int(r, 0, 0, -1), 0);
	db_result_free(r);
	assert_int_equal(DB_EXEC(f->c, sql, &r, P_INT(1)), DB_OK);
	db_result_free(r);
	assert_int_equal(DB_EXEC(f->c, kept, &r, P_TEXT(sql)), DB_OK);
	assert_int_equal(db_get_int(r, 0, 0, -1), 1);
	db_result_free(r);
}

static void test_ping(void **state)
{
	struct fixture *f = *state;
	assert_true(db_ping(f->c));
}

/* A commit is on disk when it returns: SQLite syncs the WAL at every commit
 * (FULL = 2), PostgreSQL waits for its WAL flush (synchronous_commit on). */
static void test_commit_durable(void **state)
{
	struct fixture *f = *state;
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC0(f->c, f->pg ? "SHOW synchronous_commit" : "PRAGMA synchronous", &r), DB_OK);
	assert_int_equal(r->nrows, 1);
	assert_string_equal(db_get(r, 0, 0), f->pg ? "on" : "2");
	db_result_free(r);
	if (f->pg)
		return;
	/* The operator's other choice, for connections opened after it. */
	assert_false(db_set_sqlite_synchronous("off"));
	assert_false(db_set_sqlite_synchronous(NULL));
	assert_true(db_set_sqlite_synchronous("normal"));
	const char *err = NULL;
	db_conn *other = db_sqlite_backend.open(f->target, &err);
	assert_true(db_set_sqlite_synchronous("full"));
	assert_non_null(other);
	assert_int_equal(DB_EXEC0(other, "PRAGMA synchronous", &r), DB_OK);
	assert_string_equal(db_get(r, 0, 0), "1");
	db_result_free(r);
	db_sqlite_backend.close(other);
}

/* The review queue of an authority holds its subtree's registrations and
 * nothing of an authority whose path only starts with the same digits. */
static void test_registration_queue_subtree(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t x = authority_at(f->c, "甲局", "/1/14/");
	int64_t z = authority_at(f->c, "甲局下属", "/1/14/7/");
	int64_t y = authority_at(f->c, "乙局", "/1/140/");
	const struct {
		int64_t auth;
		const char *state, *code;
	} regs[] = {
	    {x, "pending", "C1"}, {x, "approved", "C2"}, {z, "pending", "C3"},
	    {y, "pending", "C4"}, {y, "approved", "C5"},
	};
	for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
		assert_int_equal(
		    DB_EXEC(f->c,
		            "INSERT INTO registrations (kind, state, authority_id, "
		            "province_code, name, code, created_at, updated_at) VALUES "
		            "('enterprise', $1, $2, '11', $3, $3, $4, $4)",
		            NULL, P_TEXT(regs[i].state), P_INT(regs[i].auth), P_TEXT(regs[i].code),
		            P_INT(1000 + (int64_t)i)),
		    DB_OK);
	int64_t total = -1;
	struct arena *a = arena_new();
	struct registration_row *q;
	size_t n;
	assert_int_equal(registration_queue(f->c, a, "/1/14/", NULL, 10, 0, &q, &n, &total), DB_OK);
	assert_int_equal(total, 3);
	assert_int_equal(n, 3);
	/* Newest first. */
	assert_string_equal(q[0].code, "C3");
	assert_int_equal(q[0].kind, KIND_ENTERPRISE);
	assert_int_equal(registration_queue(f->c, a, "/1/14/", "pending", 10, 0, &q, &n, &total),
	                 DB_OK);
	assert_int_equal(total, 2);
	assert_int_equal(n, 2);
	assert_string_equal(q[0].state, "pending");
	assert_int_equal(registration_queue(f->c, a, "/1/14/", "pending", 1, 1, &q, &n, &total),
	                 DB_OK);
	assert_int_equal(total, 2);
	assert_int_equal(n, 1);
	assert_string_equal(q[0].code, "C1");
	assert_int_equal(registration_queue(f->c, a, "/1/140/", NULL, 10, 0, &q, &n, &total),
	                 DB_OK);
	assert_int_equal(total, 2);
	/* No path, no subtree. */
	assert_int_equal(registration_queue(f->c, a, "", NULL, 10, 0, &q, &n, &total), DB_OK);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);
	arena_free(a);
}

/* ---- main ------------------------------------------------------------------------ */

/* PostgreSQL: a session the server ended while the connection sat idle
 * costs no statement (the end is read before sending, and a new session
 * runs it), and a write refused as read-only (25006) reconnects asking for
 * a writable server and runs once more. */
static void test_pg_session_ended(void **state)
{
	struct fixture *f = *state;
	if (!f->pg)
		return; /* SQLite has no server to go away */
	const char *err = NULL;
	db_conn *other = db_pg_backend.open(f->target, &err);
	assert_non_null(other);
	assert_int_equal(DB_EXEC0(f->c, "CREATE TABLE reconnect_t (x INTEGER)", NULL), DB_OK);
	db_result *r = NULL;
	assert_int_equal(DB_EXEC0(f->c, "SELECT pg_backend_pid()", &r), DB_OK);
	char *pid = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	r = NULL;
	assert_int_equal(
	    DB_EXEC(other, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", &r, P_TEXT(pid)),
	    DB_OK);
	assert_string_equal(db_get(r, 0, 0), "t");
	db_result_free(r);
	usleep(300000); /* the FATAL message and the end reach the socket */
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO reconnect_t (x) VALUES ($1)", NULL, P_INT(1)),
	                 DB_OK);
	r = NULL;
	assert_int_equal(DB_EXEC0(f->c, "SELECT pg_backend_pid()", &r), DB_OK);
	assert_string_not_equal(db_get(r, 0, 0), pid);
	db_result_free(r);
	free(pid);

	/* This session takes no writes, as a standby would not. */
	assert_int_equal(DB_EXEC0(f->c, "SET default_transaction_read_only = on", NULL), DB_OK);
	assert_int_equal(DB_EXEC(f->c, "INSERT INTO reconnect_t (x) VALUES ($1)", NULL, P_INT(2)),
	                 DB_OK);
	r = NULL;
	assert_int_equal(DB_EXEC0(other, "SELECT count(*) FROM reconnect_t", &r), DB_OK);
	assert_string_equal(db_get(r, 0, 0), "2");
	db_result_free(r);
	db_pg_backend.close(other);
}

#define ENGINE_TESTS(setup)                                                                        \
	cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_pg_session_ended, setup, teardown),               \
	    cmocka_unit_test_setup_teardown(test_commit_durable, setup, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_commit_mark_keeps_shm_locks, setup, teardown),    \
	    cmocka_unit_test_setup_teardown(test_checkpoint_over, setup, teardown),                \
	    cmocka_unit_test_setup_teardown(test_insert_returning, setup, teardown),               \
	    cmocka_unit_test_setup_teardown(test_exec_once, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(test_chinese_text, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_transaction_commit_and_rollback, setup,           \
	                                    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_transaction_retry, setup, teardown),              \
	    cmocka_unit_test_setup_teardown(test_pool_two_threads, setup, teardown),               \
	    cmocka_unit_test_setup_teardown(test_seed_base, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_seed_base_twice, setup, teardown),                \
	    cmocka_unit_test_setup_teardown(test_authority_insert, setup, teardown),               \
	    cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_ping, setup, teardown),                           \
	    cmocka_unit_test_setup_teardown(test_registration_queue_subtree, setup, teardown),     \
	    cmocka_unit_test_setup_teardown(test_account_login, setup, teardown),                  \
	    cmocka_unit_test_setup_teardown(test_account_login_limits, setup, teardown),           \
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_generations_other_writers, setup, teardown),      \
	    cmocka_unit_test_setup_teardown(test_pg_listen, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_session_cache, setup, teardown),                  \
	    cmocka_unit_test_setup_teardown(test_session_purge, setup, teardown),                  \
	    cmocka_unit_test_setup_teardown(test_session_idle, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_session_cache_idle, setup, teardown),             \
	    cmocka_unit_test_setup_teardown(test_password_change, setup, teardown),                \
	    cmocka_unit_test_setup_teardown(test_password_reset, setup, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown)

int main(void)
{
	password_set_cost("min");
	/* Every audited write needs the audit key; each test's store is new, so
	 * all its entries are keyed. */
	if (sodium_init() < 0)
		return 1;
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	const struct CMUnitTest sqlite_tests[] = {ENGINE_TESTS(setup_sqlite)};
	const struct CMUnitTest pg_tests[] = {ENGINE_TESTS(setup_pg)};
	int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster)
		failed += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
	else
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	return failed ? 1 : 0;
}
