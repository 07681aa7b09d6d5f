/* A fresh, migrated store for each unit test, on either engine (include
 * after <cmocka.h>): SQLite in a temporary file, PostgreSQL in a new
 * database of the cluster ESP_PG_CLUSTER names (scripts/pg-test-cluster.sh).
 * A PostgreSQL database that cannot be made fails the test, never skips it. */
#ifndef ESP_TEST_DBFIXTURE_H
#define ESP_TEST_DBFIXTURE_H

#include <stdbool.h>

#include "esp/db.h"

struct fixture {
	bool pg;
	char *target; /* file path or URI */
	char *tmpdir; /* SQLite */
	db_pool *pool;
	db_conn *c;
	int applied; /* migrations applied by the setup */
};

/* cmocka setups and teardown: *state becomes a struct fixture. */
int setup_sqlite(void **state);
int setup_pg(void **state);
int teardown(void **state);

#endif
