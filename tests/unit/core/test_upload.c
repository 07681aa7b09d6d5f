/*
 * Unit tests of the uploads' owner lookup (src/core/upload.c) on both
 * engines: whose registration an upload is, DB_NOT_FOUND for one that is
 * not there, and a failing store is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/upload.h"
#include "../dbfixture.h"
#include "storetest.h"

static int64_t store_upload(db_conn *c, int64_t reg)
{
	int64_t id = 0;
	assert_int_equal(upload_store(c, reg, "%PDF-1.4\n", 9, "application/pdf", &id), DB_OK);
	assert_true(id > 0);
	return id;
}

static void test_upload_owner(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t other = store_registration(f->c, "approved", "91110000000000002B");
	int64_t up = store_upload(f->c, reg), up2 = store_upload(f->c, other);
	int64_t owner = -1;
	assert_int_equal(upload_owner(f->c, up, &owner), DB_OK);
	assert_int_equal(owner, reg);
	assert_int_equal(upload_owner(f->c, up2, &owner), DB_OK);
	assert_int_equal(owner, other);
	assert_int_equal(upload_owner(f->c, up2 + 100, &owner), DB_NOT_FOUND);
	assert_int_equal(owner, 0);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE uploads RENAME TO uploads_gone", NULL), DB_OK);
	int64_t owner = -1;
	assert_int_equal(upload_owner(f->c, 1, &owner), DB_ERROR);
	assert_int_equal(owner, 0);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_upload_owner, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("upload", TESTS)
