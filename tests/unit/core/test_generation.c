/*
 * Unit test of src/core/generation.c on PostgreSQL (ESP_PG_CLUSTER names a
 * cluster started with scripts/pg-test-cluster.sh): what pages read
 * (generations_read) follows a change made by SQL behind espd at once, even
 * while the notification mark (db_pg_listen.c) has not moved. The
 * notification is held back for certain here (the trigger that sends it is
 * off in the writer's transaction), where in life it only arrives a little
 * after the commit: registration.test.mjs saw that gap only by chance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/db.h"
#include "esp/generation.h"
#include "esp/util.h"
#include "../dbfixture.h"

/* The listening thread's mark, once it listens (at most 30 s). */
static void wait_for_mark(db_conn *c, struct db_mark *m)
{
	for (int i = 0; i < 300; i++) {
		if (db_commit_mark(c, m))
			return;
		usleep(100000);
	}
	fail_msg("the listening connection did not start");
}

static void test_page_sees_sql_change_before_the_mark(void **state)
{
	struct fixture *f = *state;
	assert_true(db_listen_start(f->pool));
	struct db_mark before, after;
	wait_for_mark(f->c, &before);
	int64_t old[GEN_COUNT], now[GEN_COUNT];
	assert_true(generations_read(f->c, old));
	assert_true(old[GEN_SETTINGS] >= 0);

	/* Behind espd (another process: this one's own writes move its mark),
	 * a setting changed and committed, with the notification trigger off
	 * for that transaction only. */
	char *cmd =
	    xasprintf("psql -X -q -v ON_ERROR_STOP=1 '%s' -c 'BEGIN' "
	              "-c 'ALTER TABLE generations DISABLE TRIGGER generations_notify' "
	              "-c \"UPDATE settings SET value = '15' WHERE name = 'delivery_days'\" "
	              "-c 'ALTER TABLE generations ENABLE TRIGGER generations_notify' -c 'COMMIT'",
	              f->target);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	/* No notification came: the mark is where it was... */
	assert_true(db_commit_mark(f->c, &after));
	assert_memory_equal(&before, &after, sizeof before);
	/* ...and the page's read has the change all the same. */
	assert_true(generations_read(f->c, now));
	assert_true(now[GEN_SETTINGS] > old[GEN_SETTINGS]);
	db_listen_stop(f->pool);
}

int main(void)
{
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (!cluster || !*cluster) {
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(
	    test_page_sees_sql_change_before_the_mark, setup_pg, teardown)};
	return cmocka_run_group_tests_name("generation postgresql", tests, NULL, NULL);
}
