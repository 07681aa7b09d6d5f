/*
 * Unit tests of the driver packages (src/core/driver.c) on both engines:
 * upload (size and SHA-256 computed from the bytes, audited), the list
 * newest first without the bytes, one package's facts, its bytes back
 * exactly (NULs included), absent packages, and a failing store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/driver.h"
#include "../dbfixture.h"
#include "storetest.h"

/* SHA-256 of "abc" (FIPS 180-2). */
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_insert_list_meta_data(void **state)
{
	struct fixture *f = *state;
	struct actor admin = store_admin(f->c);
	struct arena *a = arena_new();
	struct driver one = {.name = "证书U盘驱动",
	                     .version = "1.0",
	                     .os = "Windows 10",
	                     .filename = "driver-1.0.exe"};
	assert_int_equal(driver_insert(f->c, a, &admin, &one, "abc", 3), DB_OK);
	assert_true(one.id > 0);
	assert_int_equal(one.size, 3);
	assert_string_equal(one.sha256, ABC_SHA256);
	static const unsigned char bin[] = {0x4d, 0x5a, 0x00, 0x90, 0x00, 0xff, 0x00};
	struct driver two = {
	    .name = "证书U盘驱动", .version = "2.0", .os = "统信UOS", .filename = "driver-2.0.deb"};
	assert_int_equal(driver_insert(f->c, a, &admin, &two, bin, sizeof bin), DB_OK);
	assert_true(two.id > one.id);

	struct driver *list;
	size_t n;
	assert_int_equal(driver_list(f->c, a, &list, &n), DB_OK);
	assert_int_equal(n, 2);
	/* Newest first (the same second: the later id). */
	assert_int_equal(list[0].id, two.id);
	assert_string_equal(list[0].version, "2.0");
	assert_string_equal(list[0].os, "统信UOS");
	assert_int_equal(list[0].size, (int64_t)sizeof bin);
	assert_int_equal(list[1].id, one.id);
	assert_string_equal(list[1].name, "证书U盘驱动");
	assert_string_equal(list[1].filename, "driver-1.0.exe");
	assert_string_equal(list[1].sha256, ABC_SHA256);
	assert_int_equal(list[1].created_at, one.created_at);

	struct driver m;
	assert_int_equal(driver_meta(f->c, a, two.id, &m), DB_OK);
	assert_int_equal(m.id, two.id);
	assert_string_equal(m.filename, "driver-2.0.deb");
	assert_string_equal(m.sha256, two.sha256);
	assert_int_equal(m.size, (int64_t)sizeof bin);

	unsigned char *data = NULL;
	size_t len = 0;
	assert_int_equal(driver_data(f->c, two.id, &data, &len), DB_OK);
	assert_int_equal(len, sizeof bin);
	assert_memory_equal(data, bin, sizeof bin);
	free(data);

	/* Each upload audited, naming the file and its hash. */
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "driver.upload"),
	    2);
	assert_int_equal(store_count(f->c,
	                             "SELECT COUNT(*) FROM audit_log WHERE object = $1 AND "
	                             "after_state = '" ABC_SHA256 "'",
	                             "driver-1.0.exe"),
	                 1);
	arena_free(a);
}

static void test_absent(void **state)
{
	struct fixture *f = *state;
	struct arena *a = arena_new();
	struct driver *list = (struct driver *)1;
	size_t n = 5;
	assert_int_equal(driver_list(f->c, a, &list, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	struct driver m;
	assert_int_equal(driver_meta(f->c, a, 42, &m), DB_NOT_FOUND);
	unsigned char *data = (unsigned char *)1;
	size_t len = 7;
	assert_int_equal(driver_data(f->c, 42, &data, &len), DB_NOT_FOUND);
	assert_null(data);
	assert_int_equal(len, 0);
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct actor admin = store_admin(f->c);
	assert_int_equal(DB_EXEC0(f->c, "DROP TABLE drivers", NULL), DB_OK);
	struct arena *a = arena_new();
	struct driver *list;
	size_t n;
	assert_int_equal(driver_list(f->c, a, &list, &n), DB_ERROR);
	struct driver m;
	assert_int_equal(driver_meta(f->c, a, 1, &m), DB_ERROR);
	unsigned char *data;
	size_t len;
	assert_int_equal(driver_data(f->c, 1, &data, &len), DB_ERROR);
	assert_null(data);
	struct driver d = {.name = "x", .version = "1", .os = "y", .filename = "x.bin"};
	assert_int_not_equal(driver_insert(f->c, a, &admin, &d, "abc", 3), DB_OK);
	assert_int_equal(
	    store_count(f->c, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "driver.upload"),
	    0);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_insert_list_meta_data, setup, teardown),              \
	    cmocka_unit_test_setup_teardown(test_absent, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("driver", TESTS)
