/* What the core's store tests share (include after <cmocka.h> and
 * ../dbfixture.h): rows to hang records on, a count, and a main that runs
 * one list of tests on SQLite and, when ESP_PG_CLUSTER names a test cluster,
 * on PostgreSQL. */
#ifndef ESP_TEST_STORETEST_H
#define ESP_TEST_STORETEST_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "esp/audit.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/util.h"

/* The number in column 0 of a one-row query with one text parameter (or none). */
static inline int64_t store_count(db_conn *c, const char *sql, const char *param)
{
	db_result *r = NULL;
	enum db_status st = param ? DB_EXEC(c, sql, &r, P_TEXT(param)) : DB_EXEC0(c, sql, &r);
	assert_int_equal(st, DB_OK);
	int64_t n = db_get_int(r, 0, 0, -1);
	db_result_free(r);
	return n;
}

/* A registration of the base data's 北京 authority (seed_base first). */
static inline int64_t store_registration(db_conn *c, const char *state, const char *code)
{
	int64_t auth = authority_by_name(c, "北京市交通委员会");
	assert_true(auth > 0);
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO registrations (kind, state, authority_id, province_code, "
	            "name, code, created_at, updated_at) VALUES ('enterprise', $1, $2, "
	            "'11', '测试企业', $3, $4, $4) RETURNING id",
	            &r, P_TEXT(state), P_INT(auth), P_TEXT(code), P_INT(time_now())),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	assert_true(id > 0);
	return id;
}

/* An admin to act; its id is what audited rows name. */
static inline struct actor store_admin(db_conn *c)
{
	int64_t id = 0;
	assert_int_equal(
	    account_create(c, "admin", "管理员口令123", ROLE_ADMIN, "系统管理员", 0, NULL, 0, &id),
	    DB_OK);
	return (struct actor){
	    .account_id = id, .role = ROLE_ADMIN, .username = "admin", .address = "127.0.0.1"};
}

/* Runs the tests on both engines; every audited write needs the audit key
 * (each test's store is new, so all its entries are keyed). */
static inline int store_test_main(const char *name, const struct CMUnitTest *sqlite_tests,
                                  const struct CMUnitTest *pg_tests, size_t n)
{
	password_set_cost("min");
	if (sodium_init() < 0)
		return 1;
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	char group[64];
	snprintf(group, sizeof group, "%s sqlite", name);
	int failed = _cmocka_run_group_tests(group, sqlite_tests, n, NULL, NULL);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster) {
		snprintf(group, sizeof group, "%s postgresql", name);
		failed += _cmocka_run_group_tests(group, pg_tests, n, NULL, NULL);
	} else {
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	}
	return failed ? 1 : 0;
}
#define STORE_TEST_MAIN(name, LIST)                                                                \
	int main(void)                                                                             \
	{                                                                                          \
		const struct CMUnitTest sqlite_tests[] = {LIST(setup_sqlite)};                     \
		const struct CMUnitTest pg_tests[] = {LIST(setup_pg)};                             \
		return store_test_main(name, sqlite_tests, pg_tests,                               \
		                       sizeof sqlite_tests / sizeof sqlite_tests[0]);              \
	}

#endif
