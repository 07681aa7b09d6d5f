/*
 * Unit tests of the applications' lookups the wizard makes
 * (src/core/application.c) on both engines: the open initial application
 * (withdrawn ones and additional applications do not count; the newest live
 * one does), the newest scan on file (DB_NOT_FOUND when there is none), and
 * a failing store is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "esp/application.h"
#include "esp/upload.h"
#include "../dbfixture.h"
#include "storetest.h"

/* An application row as application_create leaves it (fields the lookups
 * do not read hold fixed dummy values). */
static int64_t store_application(db_conn *c, int64_t reg, const char *number, const char *type,
                                 const char *app_state, int64_t scan)
{
	db_result *r = NULL;
	int64_t now = time_now();
	assert_int_equal(
	    DB_EXEC(
	        c,
	        "INSERT INTO applications (number, registration_id, type, state, sets, "
	        "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, years, "
	        "amount_yuan, scan_id, idem_key, submitted_at, updated_at) VALUES ($1, $2, $3, $4, "
	        "1, '联系人', '13800000000', 'a@example.com', '地址', '100000', 660, 80, 3, 660, "
	        "$5, "
	        "$1, $6, $6) RETURNING id",
	        &r, P_TEXT(number), P_INT(reg), P_TEXT(type), P_TEXT(app_state),
	        scan ? P_INT(scan) : P_NULL, P_INT(now)),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

static int64_t store_upload(db_conn *c, int64_t reg)
{
	int64_t id = 0;
	assert_int_equal(upload_store(c, reg, "%PDF-1.4\n", 9, "application/pdf", &id), DB_OK);
	assert_true(id > 0);
	return id;
}

/* The open initial application's number (malloc'ed), NULL when none. */
static char *open_initial(db_conn *c, int64_t reg)
{
	char *number = (char *)"x";
	assert_int_equal(application_open_initial(c, reg, &number), DB_OK);
	return number;
}

static void test_open_initial(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t other = store_registration(f->c, "approved", "91110000000000002B");
	assert_null(open_initial(f->c, reg));

	/* Withdrawn, additional, or another registration's: none is open. */
	store_application(f->c, reg, "ESP-2026-000001", "initial", "withdrawn", 0);
	store_application(f->c, reg, "ESP-2026-000002", "additional", "submitted", 0);
	store_application(f->c, other, "ESP-2026-000003", "initial", "submitted", 0);
	assert_null(open_initial(f->c, reg));

	store_application(f->c, reg, "ESP-2026-000004", "initial", "paid", 0);
	char *n = open_initial(f->c, reg);
	assert_string_equal(n, "ESP-2026-000004");
	free(n);
	n = open_initial(f->c, other);
	assert_string_equal(n, "ESP-2026-000003");
	free(n);
}

static void test_latest_scan(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t scan = -1;
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_NOT_FOUND);
	assert_int_equal(scan, 0);
	store_application(f->c, reg, "ESP-2026-000001", "additional", "submitted", 0);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_NOT_FOUND);

	int64_t first = store_upload(f->c, reg), second = store_upload(f->c, reg);
	store_application(f->c, reg, "ESP-2026-000002", "initial", "received", first);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_OK);
	assert_int_equal(scan, first);
	/* The newest application with a scan, not the newest upload; one
	 * without a scan after it changes nothing. */
	store_application(f->c, reg, "ESP-2026-000003", "additional", "submitted", second);
	store_application(f->c, reg, "ESP-2026-000004", "additional", "submitted", 0);
	assert_int_equal(application_latest_scan(f->c, reg, &scan), DB_OK);
	assert_int_equal(scan, second);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
	    DB_EXEC0(f->c, "ALTER TABLE applications RENAME TO applications_gone", NULL), DB_OK);
	char *number = (char *)"x";
	int64_t id;
	assert_int_equal(application_open_initial(f->c, 1, &number), DB_ERROR);
	assert_null(number);
	assert_int_equal(application_latest_scan(f->c, 1, &id), DB_ERROR);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_open_initial, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_latest_scan, setup, teardown),                    \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("application", TESTS)
